import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser, forms } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { useServer } from '../helpers/server.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';

describe('what the provider refuses', () => {
  const ctx = useServer();
  let user: TestUser;
  let client: ClientMetadata;
  let config: oidc.Configuration;

  before(async () => {
    user = await createUser(ctx.server);
    client = await createClient(ctx.server, { redirectUris: [REDIRECT] });
    config = await rpConfig(ctx.server, client);
  });

  function authUrl(params: Record<string, string>) {
    const url = new URL('/auth', ctx.server.url);
    const all = { client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 'st', ...params };
    for (const [k, v] of Object.entries(all)) if (v !== '') url.searchParams.set(k, v);
    return url.toString();
  }

  async function basicToken(body: Record<string, string>, secret = String(client.client_secret)) {
    return fetch(`${ctx.server.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}`,
      },
      body: new URLSearchParams(body),
    });
  }

  test('an unregistered redirect_uri gets an error page, never a redirect', async () => {
    for (const redirect of ['https://evil.example/cb', `${REDIRECT}/../evil`, `${REDIRECT}?x=1`, 'http://127.0.0.1:9/callbackx']) {
      const res = await fetch(authUrl({ redirect_uri: redirect, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }), { redirect: 'manual' });
      assert.equal(res.status, 400, redirect);
      assert.equal(res.headers.get('location'), null, redirect);
      const html = await res.text();
      assert.match(html, /redirect_uri/);
      assert.match(html, /<link rel="stylesheet" href="\/assets\/gatehouse.css">/, 'rendered through our error view');
    }
  });

  test('a request without code_challenge is refused, for confidential clients too', async () => {
    const res = await fetch(authUrl({}), { redirect: 'manual' });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description')!, /PKCE/);
    assert.equal(location.searchParams.get('code'), null);
  });

  test('the plain PKCE method and implicit response types are refused', async () => {
    const plain = await fetch(authUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }), { redirect: 'manual' });
    assert.equal(new URL(plain.headers.get('location')!).searchParams.get('error'), 'invalid_request');
    const implicit = await fetch(authUrl({ response_type: 'token', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }), { redirect: 'manual' });
    const err = new URL(implicit.headers.get('location')!.replace('#', '?')).searchParams.get('error');
    assert.equal(err, 'unsupported_response_type');
  });

  test('a replayed code gives invalid_grant and revokes what the first use issued', async () => {
    const { callbackUrl, verifier, state } = await authorize(ctx.server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);

    const replay = await basicToken({ grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
    assert.equal(replay.status, 400);
    assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');

    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, 'access token revoked');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
  });

  test('of two parallel redemptions of one code, exactly one wins', async () => {
    const { callbackUrl, verifier } = await authorize(ctx.server, config, user);
    const body = { grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const results = await Promise.all(Array.from({ length: 4 }, () => basicToken(body)));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400, 400, 400]);
  });

  test('a wrong verifier and a wrong secret are refused', async () => {
    const { callbackUrl } = await authorize(ctx.server, config, user);
    const code = callbackUrl.searchParams.get('code')!;
    const wrongSecret = await basicToken({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) }, 'not-the-secret');
    assert.equal(wrongSecret.status, 401);
    assert.equal(((await wrongSecret.json()) as { error: string }).error, 'invalid_client');
    const wrongVerifier = await basicToken({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) });
    assert.equal(wrongVerifier.status, 400);
    assert.equal(((await wrongVerifier.json()) as { error: string }).error, 'invalid_grant');
  });

  test('a wrong password and an unknown account give the same form error', async () => {
    const pages = [];
    for (const login of [user.email, 'nobody-here@example.com']) {
      const browser = new Browser();
      const loginPage = await browser.follow(authUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }));
      assert.equal(loginPage.status, 200);
      const page = await browser.submit(loginPage, { login, password: 'definitely wrong password' }, { field: 'login' });
      pages.push(page);
    }
    const [wrong, unknown] = pages;
    assert.equal(wrong!.status, 400);
    assert.equal(unknown!.status, wrong!.status);
    const message = (body: string) => body.match(/<p class="alert alert-error"[^>]*>([^<]*)<\/p>/)?.[1];
    assert.ok(message(wrong!.body));
    assert.equal(message(unknown!.body), message(wrong!.body));
    // The login field keeps what was typed; the password is never echoed back.
    assert.equal(forms(unknown!.body, unknown!.url)[0]!.fields.login, 'nobody-here@example.com');
    assert.equal(forms(unknown!.body, unknown!.url)[0]!.fields.password, '');
  });

  test('malformed token requests get a 400 JSON error, never a 500', async () => {
    const cases: { body: string; type: string }[] = [
      { body: 'grant_type=authorization_code', type: 'application/x-www-form-urlencoded' },
      { body: 'grant_type=password&username=a&password=b', type: 'application/x-www-form-urlencoded' },
      { body: 'grant_type=refresh_token&refresh_token=%00%FF', type: 'application/x-www-form-urlencoded' },
      { body: '{"grant_type":"authorization_code"', type: 'application/json' },
      { body: '%%%&&&===', type: 'application/x-www-form-urlencoded' },
      { body: 'grant_type=authorization_code&code=a&code=b', type: 'application/x-www-form-urlencoded' },
      { body: 'x'.repeat(200_000), type: 'application/x-www-form-urlencoded' },
    ];
    for (const c of cases) {
      const res = await fetch(`${ctx.server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': c.type, authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
        body: c.body,
      });
      assert.ok(res.status >= 400 && res.status < 500, `${c.body.slice(0, 40)} → ${res.status}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const json = (await res.json()) as { error: string };
      assert.equal(typeof json.error, 'string');
    }
  });
});
