import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createRevocationRepo } from '../../src/accounts/revocation/revocation.repo.ts';
import { AccessTokenError, createAccessTokenVerifier } from '../../src/first-party/resource-server.ts';
import { mintAccessToken } from '../../src/first-party/tokens.ts';
import { sha256 } from '../../src/crypto/secret-box.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';
import { appUrl, call, setCookies, signIn } from './support.ts';

const APP_ORIGIN = 'http://127.0.0.1:9';

/** Signs in through /session/start; returns the two cookie values and the browser. */
async function session(server: TestServer, client: ClientMetadata, user: TestUser) {
  const { landed, browser } = await signIn(server, client, user);
  const cookies = setCookies(landed.headers);
  return { at: cookies.get('gatehouse_at')!.value, rt: cookies.get('gatehouse_rt')!.value, browser };
}

function refresh(server: TestServer, rt: string) {
  return call(server, '/session/refresh', { method: 'POST', origin: APP_ORIGIN, cookies: { gatehouse_rt: rt } });
}

async function familyOf(server: TestServer, rt: string) {
  const { knex } = server.services;
  const token = await knex('first_party_refresh_tokens').where({ id_hash: sha256(decodeJwt(rt).jti!) }).first();
  assert.ok(token, 'the refresh token names a stored record');
  return { token, family: await knex('first_party_families').where({ id: token.family_id }).first() };
}

/** The login page shows again in this browser: Gatehouse's own session is over too. */
async function asksForPasswordAgain(server: TestServer, client: ClientMetadata, browser: Browser) {
  const start = `${server.url}/session/start?${new URLSearchParams({ client_id: client.client_id, return_to: appUrl(client) })}`;
  const page = await browser.follow(start, {}, (u) => u.startsWith(appUrl(client)));
  return page.status === 200 && page.body.includes('name="password"');
}

describe(`POST /session/refresh and /session/logout (${STORAGE})`, () => {
  const { server } = useServer();
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    user = await createUser(server, { name: 'Grace Hopper' });
    client = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/app`] });
  });

  test('refresh rotates both cookies; the stored token is hashed and records its successor', async () => {
    const { at, rt } = await session(server, client, user);
    const res = await refresh(server, rt);
    assert.equal(res.status, 200);
    assert.equal(res.body!.sub, user.id);
    const nextAt = res.cookies.get('gatehouse_at')!;
    const nextRt = res.cookies.get('gatehouse_rt')!;
    assert.notEqual(nextAt.value, at);
    assert.notEqual(decodeJwt(nextRt.value).jti, decodeJwt(rt).jti, 'a new refresh token id');
    assert.equal(nextRt.attributes.path, '/session');
    assert.equal(nextRt.attributes.httponly, true);
    assert.equal(res.body!.expires_at, decodeJwt(nextAt.value).exp);

    const old = await familyOf(server, rt);
    const next = await familyOf(server, nextRt.value);
    assert.ok(old.token.used_at, 'the presented token is spent');
    assert.equal(old.token.successor_hash, next.token.id_hash);
    assert.equal(next.token.parent_hash, old.token.id_hash);
    assert.equal(next.family.id, old.family.id, 'same family');
    assert.equal(old.family.revoked_at, null);
    const stored = JSON.stringify(await server.services.knex('first_party_refresh_tokens').select('*'));
    assert.ok(!stored.includes(decodeJwt(rt).jti!), 'no refresh token id in the clear');

    const me = await call(server, '/session', { cookies: { gatehouse_at: nextAt.value } });
    assert.equal(me.status, 200);
    assert.equal(me.body!.sub, user.id);
  });

  test('two concurrent refreshes with the same cookie both succeed and get the same successor', async () => {
    const { rt } = await session(server, client, user);
    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(server, rt)));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200, 200], JSON.stringify(results.map((r) => r.body)));
    const jtis = new Set(results.map((r) => decodeJwt(r.cookies.get('gatehouse_rt')!.value).jti));
    assert.equal(jtis.size, 1, 'every racing request is handed the one successor');
    for (const r of results) assert.ok(r.cookies.get('gatehouse_at'), 'and a fresh access cookie');

    // The family is intact: the successor refreshes, and exactly one rotation happened.
    const { family } = await familyOf(server, rt);
    assert.equal(family.revoked_at, null);
    const tokens = await server.services.knex('first_party_refresh_tokens').where({ family_id: family.id });
    assert.equal(tokens.length, 2);
    assert.equal((await refresh(server, results[0]!.cookies.get('gatehouse_rt')!.value)).status, 200);
  });

  test('a rotated token presented again within the grace window gets the live successor, not a logout', async () => {
    const { rt } = await session(server, client, user);
    const first = await refresh(server, rt);
    const second = await refresh(server, first.cookies.get('gatehouse_rt')!.value);
    // A third tab still holding the first token: it catches up with the chain.
    const late = await refresh(server, rt);
    assert.equal(late.status, 200);
    assert.equal(decodeJwt(late.cookies.get('gatehouse_rt')!.value).jti, decodeJwt(second.cookies.get('gatehouse_rt')!.value).jti);
  });

  test('logout clears both cookies and revokes the family and the Gatehouse session', async () => {
    const { at, rt, browser } = await session(server, client, user);
    const res = await call(server, '/session/logout', { method: 'POST', origin: APP_ORIGIN, cookies: { gatehouse_rt: rt, gatehouse_at: at } });
    assert.equal(res.status, 204);
    const cleared = res.cookies;
    for (const [name, path] of [['gatehouse_at', '/'], ['gatehouse_rt', '/session']] as const) {
      const c = cleared.get(name);
      assert.ok(c, `${name} is cleared`);
      assert.equal(c.value, '');
      assert.equal(c.attributes['max-age'], '0');
      assert.equal(c.attributes.path, path, 'cleared on the path it was set on');
    }
    const { family } = await familyOf(server, rt);
    assert.ok(family.revoked_at);
    assert.equal(family.revoked_reason, 'logout');
    const again = await refresh(server, rt);
    assert.equal(again.status, 401);
    assert.equal(again.body!.error, 'SESSION_REVOKED');
    assert.ok(await asksForPasswordAgain(server, client, browser), 'signing out of the app signs out of Gatehouse');

    // Logging out without cookies, or twice, is fine.
    assert.equal((await call(server, '/session/logout', { method: 'POST', origin: APP_ORIGIN })).status, 204);
    assert.equal((await call(server, '/session/logout', { method: 'POST', origin: APP_ORIGIN, cookies: { gatehouse_rt: rt } })).status, 204);
  });

  test('refresh without a cookie, or with a forged one, is 401 with a stable code', async () => {
    const none = await call(server, '/session/refresh', { method: 'POST', origin: APP_ORIGIN });
    assert.equal(none.status, 401);
    assert.equal(none.body!.error, 'NO_REFRESH_TOKEN');
    const { rt } = await session(server, client, user);
    const [h, p] = rt.split('.');
    const forged = `${h}.${p}.${'A'.repeat(86)}`;
    const res = await refresh(server, forged);
    assert.equal(res.status, 401);
    assert.equal(res.body!.error, 'INVALID_REFRESH_TOKEN');
    assert.equal(res.cookies.get('gatehouse_rt')?.attributes['max-age'], '0', 'the bad cookie is cleared');
  });

  test('an expired access cookie is refused by GET /session and by the resource-server helper', async () => {
    const { keys } = server.services.firstParty;
    const claims = { issuer: server.url, accountId: user.id, clientId: client.client_id, scope: 'openid email profile', ttlSeconds: 600 };
    const expired = await mintAccessToken(keys, { ...claims, now: Date.now() - 60 * 60 * 1000 });
    const fresh = await mintAccessToken(keys, claims);
    const verify = createAccessTokenVerifier({ issuer: server.url, audience: client.client_id });

    assert.equal((await call(server, '/session', { cookies: { gatehouse_at: fresh.token } })).status, 200, 'the same token, unexpired, is accepted');
    assert.equal((await verify(fresh.token)).sub, user.id);

    const res = await call(server, '/session', { cookies: { gatehouse_at: expired.token } });
    assert.equal(res.status, 401);
    assert.equal(res.body!.error, 'UNAUTHENTICATED');
    await assert.rejects(verify(expired.token), (err: AccessTokenError) => err.reason === 'expired');
  });

  test('access tokens minted on refresh have the shape of the provider\'s (same key, header and claims)', async () => {
    const { at, rt } = await session(server, client, user);
    const minted = (await refresh(server, rt)).cookies.get('gatehouse_at')!.value;
    const [a, b] = [decodeProtectedHeader(at), decodeProtectedHeader(minted)];
    assert.deepEqual(b, a, 'same alg, typ and kid');
    const [p, q] = [decodeJwt(at), decodeJwt(minted)];
    assert.deepEqual(Object.keys(q).sort(), Object.keys(p).sort());
    for (const claim of ['iss', 'sub', 'aud', 'client_id', 'scope']) assert.deepEqual(q[claim], p[claim], claim);
    assert.equal(q.exp! - q.iat!, p.exp! - p.iat!);
  });

  test('signing out everywhere (a password reset) ends first-party sessions too', async () => {
    const victim = await createUser(server);
    const { at, rt } = await session(server, client, victim);
    assert.equal((await call(server, '/session', { cookies: { gatehouse_at: at } })).status, 200);
    await createRevocationRepo(server.services.knex).revokeSessions(victim.id);

    assert.equal((await call(server, '/session', { cookies: { gatehouse_at: at } })).status, 401, 'the access cookie is void at once');
    const res = await refresh(server, rt);
    assert.deepEqual([res.status, res.body!.error], [401, 'SESSION_REVOKED']);
    assert.equal((await familyOf(server, rt)).family.revoked_reason, 'sessions_revoked');
  });

  test('a disabled account cannot refresh: the family is revoked', async () => {
    const victim = await createUser(server);
    const { rt } = await session(server, client, victim);
    await server.services.accounts.repo.update(victim.id, { disabled: true });
    const res = await refresh(server, rt);
    assert.equal(res.status, 401);
    assert.equal(res.body!.error, 'SESSION_REVOKED');
    assert.equal((await familyOf(server, rt)).family.revoked_reason, 'account_disabled');
  });
});

describe(`reuse detection after the grace window (${STORAGE})`, () => {
  // No grace window: every second use of a rotated token is reuse, without waiting for a clock.
  const { server } = useServer({ env: { SESSION_REFRESH_GRACE_SECONDS: '0' } });
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    user = await createUser(server);
    client = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/app`] });
  });

  test('replaying a rotated refresh token revokes the whole family and the Gatehouse session (RFC 9700 §4.14.2)', async () => {
    const { rt, browser } = await session(server, client, user);
    const rotated = await refresh(server, rt);
    assert.equal(rotated.status, 200);
    const successor = rotated.cookies.get('gatehouse_rt')!.value;

    const replay = await refresh(server, rt);
    assert.equal(replay.status, 401);
    assert.equal(replay.body!.error, 'REFRESH_TOKEN_REUSED');
    assert.equal(replay.cookies.get('gatehouse_at')?.attributes['max-age'], '0');
    assert.equal(replay.cookies.get('gatehouse_rt')?.attributes['max-age'], '0');

    // The legitimate holder's successor dies with the family.
    const victim = await refresh(server, successor);
    assert.equal(victim.status, 401);
    assert.equal(victim.body!.error, 'SESSION_REVOKED');
    const { family } = await familyOf(server, rt);
    assert.equal(family.revoked_reason, 'reuse');
    assert.ok(await asksForPasswordAgain(server, client, browser), 'the hosted-login session ended too');
    const events = await server.services.security.events.list({ type: 'token.refresh_reuse', accountId: user.id });
    assert.equal(events.length, 1, 'the reuse is a security event');
  });
});
