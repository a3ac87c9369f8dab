import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import knexFactory from 'knex';
import { defaults } from '../../config/defaults.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openDatabase, type Database } from '../../src/db/database.ts';
import {
  ACCOUNT_LOCKED,
  createSecurityEvents,
  isSecurityEventType,
  LOGIN_FAILED,
  LOGIN_SUCCEEDED,
  PASSWORD_CHANGED,
  REFRESH_TOKEN_REUSE,
  REGISTERED,
  requestContext,
  SECURITY_EVENT_TYPES,
  type SecurityEvents,
  type SecurityLog,
} from '../../src/security/events.ts';
import { createStorage, type TestStorage } from '../helpers/server.ts';

// The security event log over a database of its own (Postgres with DATABASE_URL, else embedded).

interface Line {
  level: 'info' | 'error';
  obj: Record<string, unknown>;
  msg?: string;
}

let storage: TestStorage;
let database: Database;
let lines: Line[];
let events: SecurityEvents;
const log: SecurityLog = {
  info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  error: (obj, msg) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
};

before(async () => {
  storage = await createStorage({ redis: false });
  database = await openDatabase(loadConfig(storage.env));
  await migrate(database.knex);
  events = createSecurityEvents({ knex: database.knex, log });
});

after(async () => {
  await database?.close();
  await storage?.drop();
});

beforeEach(async () => {
  lines = [];
  await database.knex('security_events').delete();
});

describe('security events', () => {
  test('record stores the event and writes one structured log line', async () => {
    const accountId = randomUUID();
    await events.record(LOGIN_SUCCEEDED, { accountId, ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (test)', details: { clientId: 'app', method: 'password' } });
    const [e] = await events.list();
    assert.equal(e!.type, 'login.succeeded');
    assert.equal(e!.accountId, accountId);
    assert.equal(e!.ip, '203.0.113.7');
    assert.equal(e!.userAgent, 'Mozilla/5.0 (test)');
    assert.deepEqual(e!.details, { clientId: 'app', method: 'password' });
    assert.ok(e!.createdAt instanceof Date && Math.abs(e!.createdAt.getTime() - Date.now()) < 60_000);
    assert.equal(typeof e!.id, 'number');
    assert.deepEqual(lines, [
      { level: 'info', obj: { event: 'login.succeeded', accountId, ip: '203.0.113.7', details: { clientId: 'app', method: 'password' } }, msg: 'security event' },
    ]);
  });

  test('a details object with password or token keys is stored and logged without them', async () => {
    const secrets = ['hunter2-the-password', 'rt-secret-value', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'cookie-value-xyz', 'auth-code-123', 'api-key-456', 'nested-secret'];
    await events.record(LOGIN_FAILED, {
      ip: '198.51.100.1',
      details: {
        password: secrets[0],
        token: secrets[1],
        newPassword: secrets[0],
        refresh_token: secrets[1],
        idTokenHint: secrets[2],
        cookie: secrets[3],
        authorizationCode: secrets[4],
        code: secrets[4],
        apiKey: secrets[5],
        clientSecret: secrets[5],
        nested: { reason: secrets[6] },
        hint: secrets[2],
        'bad key': 'x',
        reason: 'wrong_password',
        clientId: 'app',
        attempt: 3,
        locked: false,
        scopes: ['openid', 'email', { password: secrets[0] }],
      },
    });
    const [e] = await events.list();
    assert.deepEqual(e!.details, { reason: 'wrong_password', clientId: 'app', attempt: 3, locked: false, scopes: ['openid', 'email'] });
    const stored = JSON.stringify(await database.knex('security_events').select('*'));
    const logged = JSON.stringify(lines);
    for (const secret of secrets) {
      assert.ok(!stored.includes(secret), `${secret} is not stored`);
      assert.ok(!logged.includes(secret), `${secret} is not logged`);
    }
  });

  test('the user agent is truncated, control characters are flattened, a non-UUID account id is stored as none', async () => {
    await events.record(REGISTERED, { accountId: 'not-a-uuid', ip: '2001:db8::1', userAgent: `evil\r\nFAKE LOG LINE ${'A'.repeat(2000)}`, details: { note: 'x'.repeat(500) } });
    const [e] = await events.list();
    assert.equal(e!.accountId, null);
    assert.equal(e!.ip, '2001:db8::1');
    assert.equal(e!.userAgent!.length, 512);
    assert.ok(!/[\r\n]/.test(e!.userAgent!));
    assert.ok(e!.userAgent!.startsWith('evil  FAKE LOG LINE'));
    assert.equal((e!.details.note as string).length, 200);
  });

  test('list: newest first, filtered by account, type and time, paged without gaps or repeats', async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    for (let i = 0; i < 3; i++) await events.record(LOGIN_FAILED, { accountId: alice, details: { attempt: i + 1 } });
    await events.record(ACCOUNT_LOCKED, { accountId: alice });
    await events.record(REGISTERED, { accountId: bob });
    await events.record(LOGIN_FAILED, { ip: '192.0.2.1', details: { reason: 'unknown_account' } });

    const all = await events.list();
    assert.deepEqual(all.map((e) => e.type), ['login.failed', 'account.registered', 'account.locked', 'login.failed', 'login.failed', 'login.failed']);
    assert.deepEqual(all.slice(3).map((e) => e.details.attempt), [3, 2, 1]);
    assert.deepEqual((await events.list({ accountId: alice })).map((e) => e.type), ['account.locked', 'login.failed', 'login.failed', 'login.failed']);
    assert.deepEqual((await events.list({ accountId: bob })).map((e) => e.type), ['account.registered']);
    assert.equal((await events.list({ type: LOGIN_FAILED })).length, 4);
    assert.equal((await events.list({ type: LOGIN_FAILED, accountId: alice })).length, 3);
    assert.deepEqual(await events.list({ accountId: 'not-a-uuid' }), []);

    // Age the three failures by a day: `since` keeps what is newer.
    await database.knex('security_events').where({ type: LOGIN_FAILED, account_id: alice }).update({ created_at: database.knex.raw("now() - interval '1 day'") });
    const recent = await events.list({ since: new Date(Date.now() - 60 * 60 * 1000) });
    assert.deepEqual(recent.map((e) => e.type), ['login.failed', 'account.registered', 'account.locked']);

    // Several events in one millisecond still page exactly (ties broken by id).
    await database.knex('security_events').update({ created_at: new Date('2026-11-24T10:00:00.000Z') });
    const pages = [];
    let last;
    for (;;) {
      const page = await events.list({ limit: 4, after: last });
      pages.push(...page);
      if (page.length < 4) break;
      last = page.at(-1);
    }
    assert.deepEqual(pages.map((e) => e.id), all.map((e) => e.id).sort((a, b) => b - a));
  });

  test('purgeOlderThan deletes events past the retention and keeps the rest', async () => {
    assert.equal(defaults.securityEvents.retentionDays, 90);
    for (const age of [91, 89, 0]) {
      await events.record(PASSWORD_CHANGED, { accountId: randomUUID(), details: { age } });
      await database.knex('security_events').whereRaw("details->>'age' = ?", [String(age)]).update({ created_at: database.knex.raw(`now() - interval '${age} days'`) });
    }
    assert.equal(await events.purgeOlderThan(90), 1);
    assert.deepEqual((await events.list()).map((e) => e.details.age), [0, 89]);
    assert.equal(await events.purgeOlderThan(90), 0);
    await assert.rejects(events.purgeOlderThan(0), /positive/);
  });

  test('record never throws: when the database fails, the log line stays and the failure is logged', async () => {
    const broken = knexFactory({ client: 'pg', connection: database.url, pool: { min: 0, max: 1 } });
    await broken.destroy();
    const failing = createSecurityEvents({ knex: broken, log });
    await failing.record(REFRESH_TOKEN_REUSE, { accountId: randomUUID(), details: { familyId: 'f1' } });
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.level, 'info');
    assert.equal(lines[0]!.obj.event, 'token.refresh_reuse');
    assert.equal(lines[1]!.level, 'error');
    assert.equal(lines[1]!.msg, 'security event not stored');
  });

  test('event types are distinct strings the CLI accepts; requestContext takes IP and user agent', () => {
    assert.equal(new Set(SECURITY_EVENT_TYPES).size, SECURITY_EVENT_TYPES.length);
    for (const t of SECURITY_EVENT_TYPES) assert.match(t, /^[a-z]+\.[a-z_]+$/);
    assert.ok(isSecurityEventType('login.failed'));
    assert.ok(!isSecurityEventType('LOGIN_FAILED'));
    assert.deepEqual(requestContext({ ip: '192.0.2.3', headers: { 'user-agent': 'curl/8' } }), { ip: '192.0.2.3', userAgent: 'curl/8' });
    assert.deepEqual(requestContext({ ip: '192.0.2.3', headers: {} }), { ip: '192.0.2.3', userAgent: undefined });
  });
});
