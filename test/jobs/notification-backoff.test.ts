import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { migrate, openDatabase, type Database } from '../../src/db/database.ts';
import type { Log } from '../../src/email/outbox.service.ts';
import { AGENDA_TABLE, openJobQueue, type JobQueue } from '../../src/jobs/queue.ts';
import { tcpProxy } from '../helpers/proxy.ts';
import { createStorage, TEST_DATABASE_URL, type TestStorage } from '../helpers/server.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Issue 15, finding 9: the job notification channel (Postgres LISTEN) retried every ~100 ms for
// the whole outage and logged each attempt. It backs off now (100 ms doubling to 5 s) and logs
// the loss once and the return once.
describe('the job notification channel during a Postgres outage', { skip: !TEST_DATABASE_URL && 'needs DATABASE_URL' }, () => {
  let storage: TestStorage;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let database: Database;
  let queue: JobQueue;
  let listener: pg.Client;
  const heard: string[] = [];
  const lines: { level: string; msg?: string; obj: object }[] = [];
  const log: Log = {
    info: (obj, msg) => lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => lines.push({ level: 'error', msg, obj }),
  };

  before(async () => {
    storage = await createStorage({ redis: false });
    const direct = await openDatabase(loadConfig(storage.env));
    await migrate(direct.knex);
    await direct.close();
    // What a worker hears: the channel's NOTIFY of each new job, on a connection of its own.
    listener = new pg.Client({ connectionString: storage.env.DATABASE_URL });
    await listener.connect();
    listener.on('notification', (msg) => heard.push(msg.payload ?? ''));
    await listener.query(`listen ${AGENDA_TABLE}`);
    const url = new URL(storage.env.DATABASE_URL!);
    proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    const config = loadConfig({ ...storage.env, DATABASE_URL: url.toString() });
    database = await openDatabase(config);
    // Not working: only the channel that announces new jobs talks to Postgres on its own.
    queue = await openJobQueue({ config, database, log });
  });
  after(async () => {
    proxy?.resume();
    await queue?.close();
    await database?.close();
    await listener?.end();
    await proxy?.close();
    await storage?.drop();
  });

  /** Enqueues a job through the channel under test; resolves whether workers were told within 3 s. */
  async function announced(name: string) {
    await queue.now(name, {});
    for (let i = 0; i < 30 && !heard.some((p) => p.includes(name)); i++) await sleep(100);
    return heard.some((p) => p.includes(name));
  }

  test('5 s down: a few reconnect attempts, not one per 100 ms; one line lost, one line back', async () => {
    assert.ok(await announced('notification-before'), 'a new job wakes the worker at once');
    const before = proxy.connections;
    proxy.cut();
    await sleep(5_000);
    const attempts = proxy.connections - before;
    // 100, 200, 400, 800, 1600, 3200 ms: 5 attempts in 5 s (without backoff: ~50).
    assert.ok(attempts >= 3 && attempts <= 8, `reconnect attempts in 5 s: ${attempts}`);
    const lost = lines.filter((l) => l.msg?.includes('job notification channel lost its connection'));
    assert.equal(lost.length, 1, JSON.stringify(lines));

    proxy.resume();
    // The next attempt is at most 5 s away.
    for (let i = 0; i < 80 && !lines.some((l) => l.msg?.includes('job notification channel is connected again')); i++) await sleep(100);
    const back = lines.filter((l) => l.msg?.includes('job notification channel is connected again'));
    assert.equal(back.length, 1, JSON.stringify(lines));
    assert.ok((back[0]!.obj as { attempts: number }).attempts >= 3, 'says how many attempts it took');
    assert.ok(lines.length <= 3, `lines in the whole outage: ${JSON.stringify(lines)}`);
    assert.ok(await announced('notification-after'), 'and again once the channel is back');
  });
});
