import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { useServer } from '../helpers/server.ts';

// Attacks on the OAuth/OIDC protocol surface (RFC 9700, ASVS V10), and what the provider
// refuses. Each test is one attack and asserts the answer a careful authorization server gives.
const REDIRECT = 'http://127.0.0.1:9/callback';

describe('protocol attacks', () => {
  const ctx = useServer();
  let user: TestUser;
  let client: ClientMetadata;
  let config: oidc.Configuration;

  before(async () => {
    user = await createUser(ctx.server);
    client = await createClient(ctx.server, { redirectUris: [REDIRECT], postLogoutRedirectUris: ['http://127.0.0.1:9/bye'], scope: 'openid email profile offline_access' });
    config = await rpConfig(ctx.server, client);
  });

  const basic = (secret = String(client.client_secret)) => `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}`;
  async function token(body: Record<string, string>, headers: Record<string, string> = {}) {
    const res = await fetch(`${ctx.server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(), ...headers },
      body: new URLSearchParams(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, string>, headers: res.headers };
  }
  function authUrl(params: Record<string, string>) {
    const url = new URL('/auth', ctx.server.url);
    const all: Record<string, string> = { client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 's', ...params };
    for (const [k, v] of Object.entries(all)) if (v !== '') url.searchParams.set(k, v);
    return url.toString();
  }
  const errorOf = async (url: string) => {
    const res = await fetch(url, { redirect: 'manual' });
    const loc = res.headers.get('location');
    return loc ? new URL(loc.replace('#', '?')).searchParams.get('error') : `page ${res.status}`;
  };
  async function codeFor(extra: Record<string, string> = {}) {
    return authorize(ctx.server, config, user, { extra });
  }

  test('PKCE: a code_challenge without S256 (plain) is refused', async () => {
    assert.equal(await errorOf(authUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' })), 'invalid_request');
  });

  test('PKCE: a missing code_challenge is refused, for confidential clients too', async () => {
    const res = await fetch(authUrl({}), { redirect: 'manual' });
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get('location')!);
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description')!, /PKCE/);
    assert.equal(location.searchParams.get('code'), null);
  });

  test('PKCE: a wrong code_verifier does not redeem the code', async () => {
    const { callbackUrl } = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: 'W'.repeat(43) });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
  });

  test('a wrong client secret is refused as invalid_client', async () => {
    const { callbackUrl, verifier } = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, { authorization: basic('not-the-secret') });
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
  });

  test('PKCE: a code_verifier-less redemption of a PKCE code is refused', async () => {
    const { callbackUrl } = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT });
    // RFC 7636 §4.6: a failed PKCE verification is invalid_grant.
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
  });

  test('code redeemed with another redirect_uri than the one it was issued for is refused', async () => {
    const { callbackUrl, verifier } = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: 'http://127.0.0.1:9/other', code_verifier: verifier });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
  });

  test('a code is bound to its client: another client cannot redeem it', async () => {
    const other = await createClient(ctx.server, { redirectUris: [REDIRECT] });
    const { callbackUrl, verifier } = await codeFor();
    const r = await token(
      { grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier },
      { authorization: `Basic ${Buffer.from(`${other.client_id}:${other.client_secret}`).toString('base64')}` },
    );
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
  });

  test('code replay is refused, and revokes what the first use issued', async () => {
    const { callbackUrl, verifier } = await codeFor();
    const body = { grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const first = await token(body);
    assert.equal(first.status, 200);
    assert.equal((await oidc.tokenIntrospection(config, first.body.access_token!)).active, true);

    const replay = await token(body);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');

    // RFC 6749 §4.1.2: the tokens issued for a code used twice should be revoked.
    assert.equal((await oidc.tokenIntrospection(config, first.body.access_token!)).active, false, 'access token revoked');
    await assert.rejects(oidc.refreshTokenGrant(config, first.body.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
  });

  test('parallel redemption of one code: exactly one wins, the others get 400', async () => {
    const { callbackUrl, verifier } = await codeFor();
    const body = { grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const all = await Promise.all(Array.from({ length: 4 }, () => token(body)));
    assert.deepEqual(all.map((r) => r.status).sort(), [200, 400, 400, 400]);
  });

  test('refresh token replay after rotation is refused', async () => {
    const { callbackUrl, verifier, state } = await codeFor();
    const t = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    await oidc.refreshTokenGrant(config, t.refresh_token!);
    const r = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token! });
    assert.equal(r.body.error, 'invalid_grant');
  });

  test('refresh with a wider scope than granted is refused', async () => {
    const { callbackUrl, verifier, state } = await codeFor();
    const t = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const r = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token!, scope: 'openid email profile offline_access admin' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_scope');
  });

  test('response_type=token (implicit) is refused', async () => {
    assert.equal(await errorOf(authUrl({ response_type: 'token', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })), 'unsupported_response_type');
  });

  test('response_type=id_token token (hybrid/implicit) is refused', async () => {
    assert.equal(await errorOf(authUrl({ response_type: 'id_token token', nonce: 'n', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })), 'unsupported_response_type');
  });

  test('grant_type=password (ROPC) is refused', async () => {
    const r = await token({ grant_type: 'password', username: user.email, password: user.password });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'unsupported_grant_type');
  });

  test('an access token in the query string is refused at userinfo', async () => {
    const { callbackUrl, verifier, state } = await codeFor();
    const t = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const res = await fetch(`${ctx.server.url}/me?access_token=${encodeURIComponent(t.access_token)}`);
    assert.equal(res.status, 400);
    const ok = await fetch(`${ctx.server.url}/me`, { headers: { authorization: `Bearer ${t.access_token}` } });
    assert.equal(ok.status, 200, 'the same token works in the header');
  });

  test('token responses are never cached', async () => {
    const { callbackUrl, verifier } = await codeFor();
    const r = await token({ grant_type: 'authorization_code', code: callbackUrl.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control')!, /no-store/);
  });

  test('a forged id_token_hint at logout (signed by another key) is refused', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sub: user.id, aud: client.client_id })
      .setProtectedHeader({ alg: 'RS256', kid: (await exportJWK(publicKey)).kid ?? 'attacker' })
      .setIssuer(ctx.server.url)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const url = new URL('/logout', ctx.server.url);
    url.searchParams.set('id_token_hint', forged);
    url.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:9/bye');
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
  });

  test('an unregistered post_logout_redirect_uri never redirects', async () => {
    const url = new URL('/logout', ctx.server.url);
    url.searchParams.set('client_id', client.client_id);
    url.searchParams.set('post_logout_redirect_uri', 'https://evil.example/');
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
  });

  test('open redirect through redirect_uri: unregistered and look-alike URIs get our error page, never a redirect', async () => {
    const evil = [
      'https://evil.example/cb',
      `${REDIRECT}/../evil`,
      `${REDIRECT}?x=1`,
      'http://127.0.0.1:9/callbackx',
      `${REDIRECT}.evil.example`,
      'http://127.0.0.1:9@evil.example/callback',
      `${REDIRECT}#x`,
      'HTTP://127.0.0.1:9/CALLBACK',
      'javascript:alert(1)',
    ];
    for (const redirect of evil) {
      const res = await fetch(authUrl({ redirect_uri: redirect, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }), { redirect: 'manual' });
      assert.equal(res.status, 400, redirect);
      assert.equal(res.headers.get('location'), null, redirect);
      const html = await res.text();
      assert.match(html, /redirect_uri/, redirect);
      assert.match(html, /<link rel="stylesheet" href="\/assets\/gatehouse\.[0-9a-f]+\.css">/, `${redirect}: rendered through our error view`);
    }
  });

  test('introspection: a client cannot introspect another client\'s token', async () => {
    const other = await createClient(ctx.server, { redirectUris: [REDIRECT] });
    const { callbackUrl, verifier, state } = await codeFor();
    const t = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const res = await fetch(`${ctx.server.url}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${other.client_id}:${other.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ token: t.access_token }),
    });
    const body = (await res.json()) as { active: boolean };
    assert.equal(body.active, false);
  });

  test('client authentication with alg=none assertion is refused', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ iss: client.client_id, sub: client.client_id, aud: `${ctx.server.url}/token`, jti: 'x', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
    const res = await fetch(`${ctx.server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: client.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: `${header}.${payload}.`,
      }),
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
  });

  test('authorization codes live at most 60 seconds', async () => {
    const { callbackUrl } = await codeFor();
    const stored = await ctx.server.services.adapter('AuthorizationCode').find(callbackUrl.searchParams.get('code')!);
    assert.ok(stored, 'the code is stored');
    assert.ok(Number(stored.exp) - Number(stored.iat) <= 60);
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
      const res = await fetch(`${ctx.server.url}/token`, { method: 'POST', headers: { 'content-type': c.type, authorization: basic() }, body: c.body });
      assert.ok(res.status >= 400 && res.status < 500, `${c.body.slice(0, 40)} → ${res.status}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const json = (await res.json()) as { error: string };
      assert.equal(typeof json.error, 'string');
    }
  });
});
