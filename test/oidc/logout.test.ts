import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { forms } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { freePort, useServer } from '../helpers/server.ts';

describe('RP-initiated and back-channel logout', () => {
  const { server } = useServer({ overrides: { allowPrivateNetworkFetch: true } });
  let user: TestUser;
  let client: ClientMetadata;
  let config: oidc.Configuration;
  let rp: Server;
  const logoutTokens: string[] = [];
  let rpUrl: string;

  before(async () => {
    const port = await freePort();
    rpUrl = `http://127.0.0.1:${port}`;
    rp = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (req.url === '/backchannel') logoutTokens.push(new URLSearchParams(body).get('logout_token')!);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => rp.listen(port, '127.0.0.1', r));
    user = await createUser(server);
    client = await createClient(server, {
      redirectUris: [`${rpUrl}/callback`],
      postLogoutRedirectUris: [`${rpUrl}/signed-out`],
      backchannelLogoutUri: `${rpUrl}/backchannel`,
    });
    config = await rpConfig(server, client);
  });
  after(async () => {
    rp?.close();
  });

  test('logout asks for confirmation, notifies the client, and redirects only to a registered URI', async () => {
    const { callbackUrl, verifier, state, browser } = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });

    // An unregistered post_logout_redirect_uri: an error page, no redirect.
    const evil = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' });
    const refused = await browser.request(evil.toString());
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get('location'), null);

    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${rpUrl}/signed-out`, state: 'bye' });
    const confirm = await browser.follow(url.toString());
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Sign out/);
    assert.equal(confirm.body.match(/type="submit"/g)?.length, 1, 'CONTRACT: one submit button per form');
    const form = forms(confirm.body, confirm.url).find((f) => 'xsrf' in f.fields)!;
    assert.ok(form, 'a confirmation form protected by a token');

    const done = await browser.follow(form.action, { form: { ...form.fields, logout: 'yes' } }, (u) => u.startsWith(rpUrl));
    const landed = new URL(done.url);
    assert.equal(landed.origin + landed.pathname, `${rpUrl}/signed-out`);
    assert.equal(landed.searchParams.get('state'), 'bye');

    // Back-channel: a signed logout token for this user reached the client.
    for (let i = 0; i < 50 && logoutTokens.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(logoutTokens.length, 1);
    const { payload } = await jwtVerify(logoutTokens[0]!, createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
      issuer: server.url,
      audience: client.client_id,
      typ: 'logout+jwt',
    });
    assert.equal(payload.sub, user.id);
    assert.ok((payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);

    // The session is gone: the next authorization request shows the login page again.
    const again = await browser.follow(
      oidc.buildAuthorizationUrl(config, { redirect_uri: `${rpUrl}/callback`, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString(),
      {},
      (u) => u.startsWith(rpUrl),
    );
    assert.equal(again.status, 200);
    assert.match(again.body, /name="password"/);
  });
});
