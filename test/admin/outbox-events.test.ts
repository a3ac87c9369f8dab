import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { eventually } from '../email/support.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { adminApi, type ApiAnswer } from './support.ts';

type Api = (method: string, path: string, body?: unknown, bearer?: string) => Promise<ApiAnswer>;

describe(`admin API: outbox, events, authorization (${STORAGE})`, () => {
  // Admins sign in here with a password alone; their second factor is test/mfa's.
  const { server } = useServer({ overrides: { mfa: { requireForRoles: [], requireForEveryone: false } } });
  let api: Api;
  let adminClientId: string;

  before(async () => {
    ({ api, clientId: adminClientId } = await adminApi(server));
  });

  /** A message recorded for `to` and set to `status` (as a failed delivery would leave it). */
  const message = async (to: string, status: 'dead' | 'failed' | 'sent') => {
    const m = await server.email.outbox.repo.insert({ accountId: null, toAddress: to, toName: 'Someone', template: 'verify-email', data: { token: server.services.box.seal('link-token-value') } });
    await server.services.knex('email_outbox').where({ id: m.id }).update({ status, attempts: 5, last_error: '550 no such mailbox' });
    return m.id;
  };

  test('the outbox: newest first, by status, paged; a dead message retried is sent; never its data', async () => {
    const first = await message('first@example.com', 'sent');
    const dead = await message('dead@example.com', 'dead');
    const list = await api('GET', '/outbox?limit=200');
    assert.equal(list.status, 200, list.text);
    const ids = list.body.items.map((m: { id: string }) => m.id);
    assert.ok(ids.indexOf(dead) < ids.indexOf(first), 'newest first');
    assert.ok(!list.text.includes('link-token-value') && !list.text.includes('"data"'), 'no message data');
    assert.deepEqual(Object.keys(list.body.items[0]).sort(), ['account_id', 'attempts', 'created_at', 'id', 'last_error', 'next_attempt_at', 'sent_at', 'status', 'subject', 'template', 'to']);

    const deadOnly = await api('GET', '/outbox?status=dead');
    assert.deepEqual(deadOnly.body.items.map((m: { id: string }) => m.id), [dead]);
    const bad = await api('GET', '/outbox?status=lost');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'status');

    const retried = await api('POST', `/outbox/${dead}/retry`);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.body.status, 'queued');
    assert.equal(retried.body.attempts, 0);
    await eventually(async () => (await server.email.outbox.repo.findById(dead))?.status === 'sent');
    const again = await api('POST', `/outbox/${dead}/retry`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'OUTBOX_NOT_RETRYABLE');
    assert.equal((await api('POST', `/outbox/${randomUUID()}/retry`)).status, 404);
    const [event] = await server.services.security.events.list({ type: 'admin.outbox_retried' });
    assert.equal(event?.details.outbox_id, dead);
    assert.equal(event?.details.by_client, adminClientId);
    assert.deepEqual(event?.details.changes, { status: { before: 'dead', after: 'queued' } });

    // Paging newest first: messages recorded between pages never repeat a row.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ApiAnswer = await api('GET', `/outbox?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...page.body.items.map((m: { id: string }) => m.id));
      cursor = page.body.next_cursor;
      if (pages++ < 1) await message('later@example.com', 'failed');
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.includes(first) && seen.includes(dead));
  });

  test('events: security and admin events, newest first, filtered by user, type and time, paged', async () => {
    const user = await createUser(server);
    for (const name of ['One', 'Two', 'Three']) assert.equal((await api('PATCH', `/users/${user.id}`, { name })).status, 200);
    const mine = await api('GET', `/events?user=${user.id}&type=admin.user_updated`);
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.body.items.map((e: { details: { changes: { name: { after: string } } } }) => e.details.changes.name.after), ['Three', 'Two', 'One']);
    assert.ok(mine.body.items.every((e: { account_id: string }) => e.account_id === user.id));

    const paged: number[] = [];
    let cursor: string | null = null;
    do {
      const page: ApiAnswer = await api('GET', `/events?user=${user.id}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, page.text);
      paged.push(...page.body.items.map((e: { id: number }) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual(paged, mine.body.items.map((e: { id: number }) => e.id), 'each event once, in order');

    const future = await api('GET', `/events?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.deepEqual(future.body.items, []);
    assert.ok((await api('GET', '/events?since=2020-01-01')).body.items.length > 0);
    for (const [query, field] of [['type=nonsense', 'type'], ['user=bob', 'user'], ['since=yesterday', 'since'], ['since=2026-02-30', 'since'], ['limit=1000', 'limit'], ['cursor=xyz', 'cursor']]) {
      const res = await api('GET', `/events?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.field, field);
    }
  });

  test('an admin user\'s token is recorded as that person; no token, an expired one, no admin scope or a non-admin user: 401/403 and no data', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/users'],
      ['GET', `/users/${randomUUID()}`],
      ['PATCH', `/users/${randomUUID()}`, { name: 'x' }],
      ['DELETE', `/users/${randomUUID()}/sessions`],
      ['POST', `/users/${randomUUID()}/verification-email`],
      ['GET', '/outbox'],
      ['POST', `/outbox/${randomUUID()}/retry`],
      ['GET', '/events'],
    ];
    const refused = async (bearer: string, status: number) => {
      for (const [method, path, body] of routes) {
        const res = await api(method, path, body, bearer);
        assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
        assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message'], 'no data');
        if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    };
    const { provider } = server.services.host;
    const short = await new provider.ClientCredentials({ client: (await provider.Client.find(adminClientId))!, scope: 'admin', expiresIn: 2 }).save();

    await refused('', 401);
    await refused('not-a-token', 401);

    const consoleClient = await createClient(server, { name: 'Console', scope: 'openid admin' });
    const config = await rpConfig(server, consoleClient);
    const tokenOf = async (roles: string[], scope: string) => {
      const user = await createUser(server, { roles });
      const a = await authorize(server, config, user, { scope });
      return { user, tokens: await oidc.authorizationCodeGrant(config, a.callbackUrl, { pkceCodeVerifier: a.verifier, expectedState: a.state }) };
    };
    await refused((await tokenOf([], 'openid')).tokens.access_token, 403);
    // An admin's token without the admin scope is no admin token either.
    await refused((await tokenOf(['admin'], 'openid')).tokens.access_token, 403);

    const admin = await tokenOf(['admin'], 'openid admin');
    const target = await createUser(server, { name: 'Target' });
    const changed = await api('PATCH', `/users/${target.id}`, { roles: ['support'] }, admin.tokens.access_token);
    assert.equal(changed.status, 200, changed.text);
    const [event] = await server.services.security.events.list({ type: 'admin.user_updated', accountId: target.id });
    assert.equal(event?.details.by_account, admin.user.id);
    assert.equal(event?.details.by_email, admin.user.email);
    assert.equal(event?.details.by_client, consoleClient.client_id);

    await new Promise((resolve) => setTimeout(resolve, 3100));
    await refused(short, 401);
  });
});
