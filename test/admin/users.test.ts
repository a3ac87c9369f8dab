import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { eventually } from '../email/support.ts';
import { appUrl, call, setCookies, signIn } from '../first-party/support.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { adminApi, type ApiAnswer } from './support.ts';

describe(`admin API: users (${STORAGE})`, () => {
  // Admins sign in here with a password alone; their second factor is test/mfa's.
  const { server } = useServer({ overrides: { mfa: { requireForRoles: [], requireForEveryone: false } } });
  let api: (method: string, path: string, body?: unknown, bearer?: string) => Promise<ApiAnswer>;
  let adminClientId: string;

  before(async () => {
    ({ api, clientId: adminClientId } = await adminApi(server));
  });

  const noHash = (answer: ApiAnswer) => {
    assert.ok(!/password|\$argon2/i.test(answer.text), `no password hash in ${answer.text.slice(0, 200)}`);
  };

  test('list, search and read users; never a password hash', async () => {
    const ada = await createUser(server, { email: `ada-${randomUUID().slice(0, 6)}@lovelace.example`, name: 'Ada Lovelace', username: `ada${randomUUID().slice(0, 6)}` });
    const grace = await createUser(server, { name: 'Grace 100% Hopper', verified: false });

    const all = await api('GET', '/users?limit=200');
    assert.equal(all.status, 200, all.text);
    noHash(all);
    const ids = all.body.items.map((u: { id: string }) => u.id);
    assert.ok(ids.includes(ada.id) && ids.includes(grace.id));
    assert.equal(all.body.next_cursor, null);

    const byEmail = await api('GET', '/users?q=LOVELACE.example');
    assert.deepEqual(byEmail.body.items.map((u: { id: string }) => u.id), [ada.id]);
    const byName = await api('GET', `/users?q=${encodeURIComponent('lace')}`);
    assert.deepEqual(byName.body.items.map((u: { id: string }) => u.id), [ada.id]);
    const literal = await api('GET', `/users?q=${encodeURIComponent('100%')}`);
    assert.deepEqual(literal.body.items.map((u: { id: string }) => u.id), [grace.id], '% matches itself');
    assert.deepEqual((await api('GET', `/users?q=${encodeURIComponent('_')}`)).body.items, [], '_ matches itself');

    const read = await api('GET', `/users/${ada.id}`);
    assert.equal(read.status, 200);
    noHash(read);
    assert.deepEqual(Object.keys(read.body).sort(), ['created_at', 'disabled', 'email', 'email_verified', 'id', 'name', 'roles', 'sessions_revoked_at', 'updated_at', 'username']);
    assert.equal(read.body.name, 'Ada Lovelace');
    assert.equal(read.body.email_verified, true);
    assert.equal((await api('GET', `/users/${grace.id}`)).body.email_verified, false);
    assert.equal((await api('GET', `/users/${randomUUID()}`)).status, 404);
    assert.equal((await api('GET', '/users/not-an-id')).status, 404);
  });

  test('paging by cursor is stable across inserts: no user twice, none skipped', async () => {
    const made: string[] = [];
    const make = async (n: number) => {
      for (let i = 0; i < n; i++) made.push((await createUser(server, { name: 'Paged Person' })).id);
    };
    await make(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ApiAnswer = await api('GET', `/users?q=paged&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((u: { id: string }) => u.id));
      cursor = page.body.next_cursor;
      if (pages++ < 2) await make(2);
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length, 'no user twice');
    assert.deepEqual([...seen].sort(), [...made].sort(), 'every user, once');
  });

  test('PATCH changes name, roles, verification and disabled; each change is audited with before and after', async () => {
    const user = await createUser(server, { name: 'Before Name', verified: false });
    const patched = await api('PATCH', `/users/${user.id}`, { name: 'After Name', roles: ['support', 'admin'], email_verified: true });
    assert.equal(patched.status, 200, patched.text);
    noHash(patched);
    assert.equal(patched.body.name, 'After Name');
    assert.deepEqual(patched.body.roles, ['support', 'admin']);
    assert.equal(patched.body.email_verified, true);
    assert.equal(patched.body.disabled, false);

    const [event] = await server.services.security.events.list({ type: 'admin.user_updated', accountId: user.id });
    assert.ok(event, 'an audit event about the user');
    assert.equal(event.details.by, 'api');
    assert.equal(event.details.by_client, adminClientId);
    assert.ok(event.ip, 'from which address');
    assert.deepEqual(event.details.changes, {
      name: { before: 'Before Name', after: 'After Name' },
      email_verified: { before: false, after: true },
      roles: { before: [], after: ['support', 'admin'] },
    });

    // Nothing changed: nothing audited.
    await api('PATCH', `/users/${user.id}`, { name: 'After Name' });
    assert.equal((await server.services.security.events.list({ type: 'admin.user_updated', accountId: user.id })).length, 1);

    // Disabling ends the user's tokens at once; enabling lets them sign in again.
    const client = await createClient(server);
    const config = await rpConfig(server, client);
    const a = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, a.callbackUrl, { pkceCodeVerifier: a.verifier, expectedState: a.state });
    const disabled = await api('PATCH', `/users/${user.id}`, { disabled: true });
    assert.equal(disabled.body.disabled, true);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.id));
    await assert.rejects(authorize(server, config, user), /expected a redirect to the client/);
    assert.equal((await api('PATCH', `/users/${user.id}`, { disabled: false })).body.disabled, false);
    // Sessions and tokens carry whole seconds: one begun in the second the account was signed out
    // everywhere counts as from before it (src/accounts/validity.ts). A person re-enabled signs in
    // a moment later; the test waits for the next second as they would.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.ok((await authorize(server, config, user)).callbackUrl.searchParams.get('code'));
    const changes = (await server.services.security.events.list({ type: 'admin.user_updated', accountId: user.id })).map((e) => e.details.changes);
    assert.deepEqual(changes.slice(0, 2), [{ disabled: { before: true, after: false } }, { disabled: { before: false, after: true } }]);
    assert.equal((await api('PATCH', `/users/${randomUUID()}`, { name: 'x' })).status, 404);
  });

  test('a validation failure is a 400 naming the field; nothing changes, never a 500', async () => {
    const user = await createUser(server, { name: 'Steady' });
    const cases: [unknown, string][] = [
      [{ name: 'x'.repeat(201) }, 'name'],
      [{ name: 'a\u0000b' }, 'name'],
      [{ name: 42 }, 'name'],
      [{ disabled: 'yes' }, 'disabled'],
      [{ email_verified: 1 }, 'email_verified'],
      [{ roles: 'admin' }, 'roles'],
      [{ roles: ['Admin!'] }, 'roles'],
      [{ roles: Array.from({ length: 21 }, (_, i) => `r${i}`) }, 'roles'],
      [{ password_hash: '$argon2id$v=19$...' }, 'password_hash'],
      [{ email: 'new@example.com' }, 'email'],
    ];
    for (const [body, field] of cases) {
      const res = await api('PATCH', `/users/${user.id}`, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.error, 'VALIDATION_FAILED');
      assert.equal(res.body.field, field, res.text);
      assert.match(res.body.message, new RegExp(field));
    }
    const after = await api('GET', `/users/${user.id}`);
    assert.equal(after.body.name, 'Steady');
    assert.deepEqual(after.body.roles, []);
    const forged = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=nope', 'cursor'],
      [`cursor=${forged(['1', randomUUID()])}`, 'cursor'],
      [`cursor=${forged(['2026-01-01T00:00:00.000Z', 'not-a-uuid'])}`, 'cursor'], [`q=${encodeURIComponent('a\u0000')}`, 'q']]) {
      const res = await api('GET', `/users?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.field, field);
    }
  });

  test('DELETE /users/{id}/sessions signs the user out everywhere: OIDC tokens and first-party sessions', async () => {
    const user = await createUser(server);
    const client = await createClient(server, { scope: 'openid email profile offline_access' });
    const config = await rpConfig(server, client);
    const a = await authorize(server, config, user, { scope: 'openid email offline_access', extra: { prompt: 'consent' } });
    const tokens = await oidc.authorizationCodeGrant(config, a.callbackUrl, { pkceCodeVerifier: a.verifier, expectedState: a.state });
    assert.ok(tokens.refresh_token);
    await oidc.fetchUserInfo(config, tokens.access_token, user.id);

    const app = await createClient(server, { firstParty: true, redirectUris: ['http://127.0.0.1:9/app'] });
    const { landed } = await signIn(server, app, user);
    const rt = setCookies(landed.headers).get('gatehouse_rt')!.value;

    const res = await api('DELETE', `/users/${user.id}/sessions`);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.sessions_revoked_at);

    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.id));
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
    const refreshed = await call(server, '/session/refresh', { method: 'POST', origin: new URL(appUrl(app)).origin, cookies: { gatehouse_rt: rt } });
    assert.equal(refreshed.status, 401, JSON.stringify(refreshed.body));
    // The browser's provider session is over too: the login form shows again.
    const again = await a.browser.follow(oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:9/callback', scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }).toString(), {}, (u) => u.startsWith('http://127.0.0.1:9/'));
    assert.match(again.body, /name="password"/);

    const [event] = await server.services.security.events.list({ type: 'admin.user_sessions_revoked', accountId: user.id });
    assert.equal(event?.details.by_client, adminClientId);
    assert.equal((await api('DELETE', `/users/${randomUUID()}/sessions`)).status, 404);
  });

  test('POST /users/{id}/verification-email mails a new confirmation link; a confirmed address is a 409', async () => {
    const user = await createUser(server, { verified: false });
    const res = await api('POST', `/users/${user.id}/verification-email`);
    assert.equal(res.status, 202, res.text);
    const mail = await eventually(async () => {
      const box = (await (await fetch(`${server.url}/dev/mailbox.json`)).json()) as { to: string; text: string }[];
      return box.find((m) => m.to.includes(user.email));
    });
    const link = /https?:\/\/\S+verify-email\?token=\S+/.exec(mail.text)?.[0];
    assert.ok(link, 'a confirmation link');
    await fetch(link);
    assert.equal((await api('GET', `/users/${user.id}`)).body.email_verified, true, 'the link confirms the address');
    const again = await api('POST', `/users/${user.id}/verification-email`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'ALREADY_VERIFIED');
    assert.equal((await server.services.security.events.list({ type: 'admin.user_verification_sent', accountId: user.id })).length, 1);
    assert.equal((await api('POST', `/users/${randomUUID()}/verification-email`)).status, 404);
  });
});
