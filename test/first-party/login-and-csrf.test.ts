import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { AccessTokenError, createAccessTokenVerifier } from '../../src/first-party/resource-server.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { call } from './support.ts';

const APP_ORIGIN = 'http://127.0.0.1:9';
const THIRD_PARTY_ORIGIN = 'http://127.0.0.1:8';

describe(`POST /session/login, CSRF and CORS, first-party only (${STORAGE})`, () => {
  // The user is an admin (to show roles); admins' second factor is test/mfa's.
  const { server } = useServer({ overrides: { mfa: { requireForRoles: [], requireForEveryone: false } } });
  let user: TestUser;
  let client: ClientMetadata;
  let thirdParty: ClientMetadata;

  const login = (body: Record<string, unknown>, origin: string | undefined = APP_ORIGIN) => call(server, '/session/login', { method: 'POST', origin, body });

  before(async () => {
    user = await createUser(server, { name: 'Barbara Liskov', username: 'liskov', roles: ['admin'] });
    client = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/app`], public: true });
    thirdParty = await createClient(server, { redirectUris: [`${THIRD_PARTY_ORIGIN}/callback`] });
  });

  test('JSON login with an e-mail address or a username sets both cookies and returns the user', async () => {
    for (const name of [user.email, 'liskov']) {
      const res = await login({ client_id: client.client_id, login: name, password: user.password });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body!.sub, user.id);
      assert.deepEqual(res.body!.roles, ['admin']);
      assert.ok(res.cookies.get('gatehouse_at')?.attributes.httponly);
      assert.equal(res.cookies.get('gatehouse_rt')?.attributes.path, '/session');
      assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN);
      assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    }
  });

  test('JSON login errors have stable codes', async () => {
    const wrong = await login({ client_id: client.client_id, login: user.email, password: 'not the password at all' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body!.error, 'INVALID_CREDENTIALS');
    assert.equal(wrong.cookies.size, 0);

    const unknown = await login({ client_id: client.client_id, login: 'nobody@example.com', password: user.password });
    assert.deepEqual([unknown.status, unknown.body!.error], [401, 'INVALID_CREDENTIALS'], 'no account enumeration');

    const unverified = await createUser(server, { verified: false });
    const res = await login({ client_id: client.client_id, login: unverified.email, password: unverified.password });
    assert.deepEqual([res.status, res.body!.error], [403, 'EMAIL_NOT_VERIFIED'], 'the hosted login\'s verified-e-mail rule');

    const missing = await login({ client_id: client.client_id, login: user.email });
    assert.equal(missing.status, 400);
    assert.equal(missing.body!.error, 'VALIDATION_FAILED');
    assert.ok((missing.body!.fields as Record<string, string>).password);

    const badJson = await fetch(`${server.url}/session/login`, { method: 'POST', headers: { origin: APP_ORIGIN, 'content-type': 'application/json' }, body: '{"client_id":' });
    assert.equal(badJson.status, 400);
  });

  test('a cross-origin POST is refused on every state-changing /session endpoint, and gets no CORS grant', async () => {
    const { cookies } = await login({ client_id: client.client_id, login: user.email, password: user.password });
    const rt = cookies.get('gatehouse_rt')!.value;
    const bodies: Record<string, unknown> = { '/session/login': { client_id: client.client_id, login: user.email, password: user.password } };
    for (const path of ['/session/login', '/session/refresh', '/session/logout']) {
      // Another site; no Origin at all; and `Origin: null`, which a form posted under
      // Referrer-Policy: no-referrer (or from a sandboxed frame) sends.
      for (const origin of ['https://evil.example', THIRD_PARTY_ORIGIN, undefined, 'null']) {
        const res = await call(server, path, { method: 'POST', origin, cookies: { gatehouse_rt: rt }, body: bodies[path] });
        assert.equal(res.status, 403, `${path} from ${origin}`);
        assert.equal(res.body!.error, 'ORIGIN_NOT_ALLOWED');
        assert.equal(res.cookies.size, 0, 'no cookie set or cleared');
        assert.equal(res.headers.get('access-control-allow-origin'), null);
      }
    }
    // The refused logout revoked nothing: the session still refreshes from the app's origin.
    assert.equal((await call(server, '/session/refresh', { method: 'POST', origin: APP_ORIGIN, cookies: { gatehouse_rt: rt } })).status, 200);
    // Gatehouse's own pages may post too.
    assert.equal((await login({ client_id: client.client_id, login: user.email, password: user.password }, server.url)).status, 200);
  });

  test('CORS preflight grants credentials to first-party origins and to no one else', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/session/login`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const ok = await preflight(APP_ORIGIN);
    assert.ok(ok.status < 300);
    assert.equal(ok.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
    assert.match(ok.headers.get('access-control-allow-methods') ?? '', /POST/);
    for (const origin of ['https://evil.example', THIRD_PARTY_ORIGIN, 'null']) {
      const res = await preflight(origin);
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      assert.equal(res.headers.get('access-control-allow-credentials'), null, origin);
    }
    const read = await call(server, '/session', { origin: 'https://evil.example' });
    assert.equal(read.headers.get('access-control-allow-origin'), null, 'another site cannot read GET /session');
  });

  test('a non-first-party client is refused on every /session endpoint', async () => {
    // /session/start: an error page, no redirect.
    const start = await new Browser().request(`${server.url}/session/start?${new URLSearchParams({ client_id: thirdParty.client_id, return_to: `${THIRD_PARTY_ORIGIN}/callback` })}`);
    assert.equal(start.status, 403);
    assert.match(start.body, /CLIENT_NOT_FIRST_PARTY/);
    assert.equal(start.headers.get('location'), null);

    // /session/login: refused by client, whoever posts it.
    const res = await login({ client_id: thirdParty.client_id, login: user.email, password: user.password }, server.url);
    assert.deepEqual([res.status, res.body!.error], [403, 'CLIENT_NOT_FIRST_PARTY']);
    assert.equal(res.cookies.size, 0);
    const unknown = await login({ client_id: 'no-such-client', login: user.email, password: user.password }, server.url);
    assert.deepEqual([unknown.status, unknown.body!.error], [403, 'CLIENT_NOT_FIRST_PARTY']);

    // GET /session: the third-party client's own RFC 9068 token (plain OIDC, resource indicator)
    // verifies as an access token, yet is no first-party session.
    const rp = await rpConfig(server, thirdParty);
    const resource = `${server.url}/clients/${thirdParty.client_id}`;
    const { callbackUrl, verifier, state } = await authorize(server, rp, user, { extra: { resource } });
    const tokens = await oidc.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }, { resource });
    const verified = await createAccessTokenVerifier({ issuer: server.url, audience: thirdParty.client_id })(tokens.access_token);
    assert.equal(verified.sub, user.id);
    const me = await call(server, '/session', { cookies: { gatehouse_at: tokens.access_token } });
    assert.deepEqual([me.status, me.body!.error], [401, 'UNAUTHENTICATED']);

    // refresh/logout/login from its origin: see the CSRF test; CORS: see the preflight test.
  });

  test('a client made third-party by an admin loses its sessions: no refresh, no GET /session', async () => {
    const demoted = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/demoted`], public: true });
    const signedIn = await login({ client_id: demoted.client_id, login: user.email, password: user.password });
    const at = signedIn.cookies.get('gatehouse_at')!.value;
    const rt = signedIn.cookies.get('gatehouse_rt')!.value;
    assert.equal((await call(server, '/session', { cookies: { gatehouse_at: at } })).status, 200);

    const { client_id: _id, ...metadata } = demoted;
    await server.services.clients.upsert({ client_id: demoted.client_id, ...metadata }, false);

    assert.equal((await call(server, '/session', { cookies: { gatehouse_at: at } })).status, 401);
    const res = await call(server, '/session/refresh', { method: 'POST', origin: APP_ORIGIN, cookies: { gatehouse_rt: rt } });
    assert.deepEqual([res.status, res.body!.error], [403, 'CLIENT_NOT_FIRST_PARTY']);
    assert.equal(res.cookies.get('gatehouse_rt')?.attributes['max-age'], '0');
    const family = await server.services.knex('first_party_families').where({ client_id: demoted.client_id }).first();
    assert.equal(family.revoked_reason, 'client_not_first_party', 'its sign-ins are ended, not only refused');
  });
});

describe(`cookies under an https issuer with COOKIE_DOMAIN (${STORAGE})`, () => {
  // Served over plain HTTP on loopback (a TLS-terminating proxy's view), named https.
  const { server } = useServer({ env: ({ port }) => ({ ISSUER: `https://127.0.0.1:${port}`, COOKIE_DOMAIN: 'example.test' }) });

  test('both cookies are Secure and carry the COOKIE_DOMAIN; the access token is for the client', async () => {
    const user = await createUser(server);
    const client = await createClient(server, { firstParty: true, redirectUris: ['https://app.example.test/'], public: true });
    const res = await fetch(`http://127.0.0.1:${server.port}/session/login`, {
      method: 'POST',
      headers: { origin: 'https://app.example.test', 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.client_id, login: user.email, password: user.password }),
    });
    assert.equal(res.status, 200);
    const lines = res.headers.getSetCookie();
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.match(line, /; Secure/);
      assert.match(line, /; HttpOnly/);
      assert.match(line, /; SameSite=Lax/);
      assert.match(line, /; Domain=example\.test/);
    }
    assert.match(lines.find((l) => l.startsWith('gatehouse_rt='))!, /; Path=\/session(;|$)/);
    const at = lines.find((l) => l.startsWith('gatehouse_at='))!.split(';')[0]!.slice('gatehouse_at='.length);
    // The issuer is https and not reachable here: verify with the keys' own JWKS document.
    const jwks = (await (await fetch(`http://127.0.0.1:${server.port}/jwks`)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(at, createLocalJWKSet(jwks), { issuer: server.url, audience: client.client_id, typ: 'at+jwt', algorithms: ['ES256'] });
    assert.equal(payload.sub, user.id);
    await assert.rejects(
      createAccessTokenVerifier({ issuer: server.url, audience: 'someone-else', jwksUri: `http://127.0.0.1:${server.port}/jwks` })(at),
      (err: AccessTokenError) => err.reason === 'audience',
    );
  });
});
