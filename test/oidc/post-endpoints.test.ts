import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

// OIDC Core §3.1.2.1: "Authorization Servers MUST support the use of the HTTP GET and POST
// methods at the Authorization Endpoint"; RP-Initiated Logout §2 says the same of end_session.
describe(`authorization and logout endpoints take POST (${STORAGE})`, () => {
  const ctx = useServer();

  test('a form POST to the authorization endpoint signs in and yields tokens; a second one rides the session', async () => {
    const { server } = ctx;
    const user = await createUser(server);
    const client = await createClient(server);
    const config = await rpConfig(server, client);
    const browser = new Browser();
    const first = await authorize(server, config, user, { method: 'POST', browser });
    const tokens = await oidc.authorizationCodeGrant(config, first.callbackUrl, { pkceCodeVerifier: first.verifier, expectedState: first.state });
    assert.equal(tokens.claims()?.sub, user.id);

    // Signed in now: another POST authorization request goes straight back to the client
    // (the session cookie went with it), no login page.
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid email profile',
      state: 'second',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const back = await browser.follow(`${url.origin}${url.pathname}`, { form: Object.fromEntries(url.searchParams) }, (u) => u.startsWith('http://127.0.0.1:9/'));
    const callback = new URL(back.url);
    assert.equal(callback.origin, 'http://127.0.0.1:9');
    assert.ok(callback.searchParams.get('code'), 'a code without signing in again');
    assert.equal(callback.searchParams.get('state'), 'second');
  });

  test('a form POST to the end-session endpoint asks to confirm the sign-out, as GET does', async () => {
    const { server } = ctx;
    const user = await createUser(server);
    const client = await createClient(server, { postLogoutRedirectUris: ['http://127.0.0.1:9/bye'] });
    const config = await rpConfig(server, client);
    const { browser, callbackUrl, verifier, state } = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const page = await browser.follow(`${server.url}/logout`, {
      form: { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/bye', state: 'x' },
    });
    assert.equal(page.status, 200);
    assert.match(page.body, /\/logout\/confirm/);
    const done = await browser.submit(page, { logout: 'yes' }, { stopAt: (u) => u.startsWith('http://127.0.0.1:9/') });
    assert.equal(new URL(done.url).pathname, '/bye');
  });
});
