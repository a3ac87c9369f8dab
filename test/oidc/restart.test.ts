import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

// CI runs the whole suite on Postgres+Redis and again on the embedded default: each mode once.
const modes = [STORAGE];

for (const mode of modes) {
  describe(`a restart keeps users, clients, keys and sessions (${mode})`, () => {
    const { server, restart } = useServer({ storage: mode === 'embedded' ? { embedded: true, redis: false } : {} });

    test('everything made before the restart works after it', async () => {
      const user = await createUser(server);
      const client = await createClient(server);
      const before = await authorize(server, await rpConfig(server, client), user);
      const tokens = await oidc.authorizationCodeGrant(await rpConfig(server, client), before.callbackUrl, {
        pkceCodeVerifier: before.verifier,
        expectedState: before.state,
      });
      const jwksBefore = await (await fetch(`${server.url}/jwks`)).json();
      await restart();
      const config = await rpConfig(server, client);
      assert.deepEqual(await (await fetch(`${server.url}/jwks`)).json(), jwksBefore, 'same signing keys');

      // The refresh token and the user's browser session survive.
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal((await oidc.fetchUserInfo(config, refreshed.access_token, user.id)).sub, user.id);

      const verifier = oidc.randomPKCECodeVerifier();
      const redirect = (client.redirect_uris as string[])[0]!;
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirect,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const page = await before.browser.follow(url.toString(), {}, (u) => u.startsWith(redirect));
      assert.ok(page.url.startsWith(redirect), 'signed in without a login page: the session was kept');
      assert.ok(new URL(page.url).searchParams.get('code'));

      // The user can still sign in with the password from before.
      const again = await authorize(server, config, user);
      assert.ok(again.callbackUrl.searchParams.get('code'));
    });
  });
}
