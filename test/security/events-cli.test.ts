import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { migrate, openDatabase, type Database } from '../../src/db/database.ts';
import { parseSince } from '../../src/security/events.cli.ts';
import { ACCOUNT_LOCKED, createSecurityEvents, LOGIN_FAILED, LOGIN_SUCCEEDED, REGISTERED } from '../../src/security/events.ts';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { createStorage, type TestStorage } from '../helpers/server.ts';

// `npx gatehouse events` (CONTRACT.md) run as a user runs it, beside a process that holds the
// database open (on the embedded default the CLI attaches to it).

interface Printed {
  id: number;
  type: string;
  created_at: string;
  account_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

/** The JSON lines a listing command printed. */
function jsonLines(result: CliResult): Printed[] {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Printed);
}

test('--since takes ISO-8601 dates and times and nothing Date would guess at', () => {
  assert.equal(parseSince('2026-11-24').toISOString(), '2026-11-24T00:00:00.000Z');
  assert.equal(parseSince('2026-11-24T10:30:00Z').toISOString(), '2026-11-24T10:30:00.000Z');
  assert.equal(parseSince('2026-11-24T10:30:00.250+02:00').toISOString(), '2026-11-24T08:30:00.250Z');
  assert.equal(parseSince('2024-02-29').toISOString(), '2024-02-29T00:00:00.000Z');
  for (const bad of ['yesterday', '1', '2026', '2026-13-01', '2026-02-30', '2025-02-29', '2026-11-24T24:00Z', '2026-11-24T10:60Z', '24/11/2026', '']) {
    assert.throws(() => parseSince(bad), /--since: got .* expected an ISO-8601 date/, bad);
  }
});

describe('gatehouse events', () => {
  let storage: TestStorage;
  let database: Database;
  const alice = randomUUID();
  const bob = randomUUID();

  before(async () => {
    storage = await createStorage({ redis: false });
    database = await openDatabase(loadConfig(storage.env));
    await migrate(database.knex);
  });
  after(async () => {
    await database?.close();
    await storage?.drop();
  });

  test('with no events it prints nothing and succeeds', async () => {
    const r = await runCli(['events'], storage.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
  });

  test('prints every event as a JSON line, newest first; --user, --type and --since filter', async () => {
    const events = createSecurityEvents({ knex: database.knex, log: { info() {}, error() {} } });
    await events.record(REGISTERED, { accountId: alice, ip: '192.0.2.1', userAgent: 'Browser/1' });
    await events.record(LOGIN_FAILED, { accountId: alice, ip: '192.0.2.2', details: { reason: 'wrong_password', password: 'never-printed' } });
    await events.record(LOGIN_SUCCEEDED, { accountId: alice, ip: '192.0.2.2', details: { clientId: 'app' } });
    await events.record(LOGIN_FAILED, { accountId: bob, ip: '198.51.100.9' });
    await events.record(ACCOUNT_LOCKED, { accountId: bob });
    // The registration happened long ago.
    await database.knex('security_events').where({ type: REGISTERED }).update({ created_at: new Date('2026-01-01T00:00:00Z') });

    const all = await runCli(['events'], storage.env);
    assert.ok(!all.stdout.includes('never-printed'));
    const printed = jsonLines(all);
    assert.deepEqual(printed.map((e) => e.type), ['account.locked', 'login.failed', 'login.succeeded', 'login.failed', 'account.registered']);
    assert.deepEqual(Object.keys(printed[0]!), ['id', 'type', 'created_at', 'account_id', 'ip', 'user_agent', 'details']);
    const registered = printed.at(-1)!;
    assert.deepEqual(registered, { id: registered.id, type: 'account.registered', created_at: '2026-01-01T00:00:00.000Z', account_id: alice, ip: '192.0.2.1', user_agent: 'Browser/1', details: {} });
    assert.deepEqual(printed[3]!.details, { reason: 'wrong_password' });

    assert.deepEqual(jsonLines(await runCli(['events', '--user', alice], storage.env)).map((e) => e.type), ['login.succeeded', 'login.failed', 'account.registered']);
    assert.deepEqual(jsonLines(await runCli(['events', '--type', 'login.failed'], storage.env)).map((e) => e.account_id), [bob, alice]);
    assert.deepEqual(
      jsonLines(await runCli(['events', '--user', alice, '--type', 'login.failed', '--since', '2026-06-01'], storage.env)).map((e) => e.ip),
      ['192.0.2.2'],
    );
    assert.deepEqual(jsonLines(await runCli(['events', '--since', '2025-12-31T23:00:00-02:00'], storage.env)).length, 4);
  });

  test('a long log is printed whole, page after page, without repeats', async () => {
    await database.knex('security_events').delete();
    const start = new Date('2026-03-01T00:00:00Z').getTime();
    const rows = Array.from({ length: 1203 }, (_, i) => ({
      type: LOGIN_FAILED,
      ip: `10.0.${Math.floor(i / 250)}.${i % 250}`,
      details: JSON.stringify({ n: i }),
      // Pairs of events share a millisecond: the pages must still meet exactly.
      created_at: new Date(start + Math.floor(i / 2)),
    }));
    await database.knex.batchInsert('security_events', rows, 500);
    const printed = jsonLines(await runCli(['events', '--type', 'login.failed', '--since', '2026-03-01'], storage.env));
    assert.equal(printed.length, 1203);
    assert.equal(new Set(printed.map((e) => e.id)).size, 1203);
    assert.deepEqual(
      printed.map((e) => e.details.n),
      rows.map((_, i) => i).reverse(),
    );
  });

  test('bad input: one line on stderr, nothing on stdout, a non-zero exit', async () => {
    for (const args of [
      ['events', '--since', 'yesterday'],
      ['events', '--since', '2026-02-30'],
      ['events', '--type', 'login.exploded'],
      ['events', '--user', 'alice@example.com'],
      ['events', '--bogus'],
      ['events', 'extra'],
    ]) {
      const r = await runCli(args, storage.env);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      const stderr = r.stderr.trim().split('\n');
      assert.equal(stderr.length, 1, r.stderr);
      assert.match(stderr[0]!, /^gatehouse: usage error: /, args.join(' '));
    }
    const since = await runCli(['events', '--since', 'yesterday'], storage.env);
    assert.match(since.stderr, /--since: got "yesterday", expected an ISO-8601 date/);
  });
});
