import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../../src/config.ts';
import { SEND_EMAIL } from '../../src/jobs/email.jobs.ts';
import { AGENDA_TABLE } from '../../src/jobs/queue.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';
import { eventually, EVERY_SECOND, fastEmail, outboxTo, spawnWorker, type WorkerProcess } from './support.ts';

// Worker processes attach to the test server's database (its embedded PGlite, when embedded):
// room for three processes' connections.
const ROOM: Partial<Config> = { embeddedMaxConnections: 32 };

describe(`e-mail workers (${STORAGE})`, () => {
  let smtp: TestSmtp;
  const workers: WorkerProcess[] = [];

  before(async () => {
    smtp = await startSmtp();
  });
  // Registered before useServer's, so it runs first: the workers stop before the server and its storage.
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
  });
  // The web process only records and enqueues (WORKER=off): the worker processes send.
  const { server, storage } = useServer({ env: () => ({ SMTP_URL: smtp.url, WORKER: 'off', LOG_LEVEL: 'error' }), overrides: { ...fastEmail(), ...ROOM } });
  after(async () => {
    await smtp?.stop();
  });

  // Like any worker beside a web process, the same ISSUER (links, Message-IDs) and SECRETS.
  const workerEnv = (smtpUrl: string) => ({ ...storage.env, ISSUER: server.url, SMTP_URL: smtpUrl, EMAIL_RESEND_CRON: EVERY_SECOND, LOG_LEVEL: 'fatal' });

  async function record(addresses: string[]): Promise<string[]> {
    const { knex } = server.services;
    const ids = await knex.transaction(async (trx) => {
      const out: string[] = [];
      for (const address of addresses) {
        out.push((await server.email.outbox.record({ accountId: null, to: { address, name: 'Load Test' }, template: 'account-exists' }, trx)).id);
      }
      return out;
    });
    return ids;
  }

  test('two workers running at once deliver each of 50 queued messages exactly once', async () => {
    const tag = randomBytes(3).toString('hex');
    const addresses = Array.from({ length: 50 }, (_, i) => `two-${tag}-${i}@example.com`);
    const ids = await record(addresses);
    // Every message gets two send jobs, so the workers compete for every single one.
    for (const id of ids) {
      await server.email.jobs.enqueueEmail(id);
      await server.email.jobs.enqueueEmail(id);
    }

    const overrides = { ...fastEmail(), ...ROOM };
    const [a, b] = await Promise.all([spawnWorker(workerEnv(smtp.url), overrides), spawnWorker(workerEnv(smtp.url), overrides)]);
    workers.push(a!, b!);

    await smtp.until((s) => addresses.every((to) => s.received.some((m) => m.envelopeTo.includes(to))));
    // Quiet: every send job has run (they remove themselves), and every message is sent.
    const { knex } = server.services;
    await eventually(async () => {
      const pending = (await knex(AGENDA_TABLE).where({ name: SEND_EMAIL }).count({ n: '*' }).first()) as { n: number };
      return Number(pending.n) === 0;
    });
    const rows = await knex('email_outbox').whereIn('id', ids).select('status', 'attempts');
    assert.ok(rows.every((r: { status: string; attempts: number }) => r.status === 'sent' && r.attempts === 1), 'each message was claimed once');

    for (const to of addresses) {
      assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(to)).length, 1, `exactly one message to ${to}`);
    }
    const messageIds = smtp.received.filter((m) => m.envelopeTo[0]!.startsWith(`two-${tag}-`)).map((m) => m.messageId);
    assert.equal(new Set(messageIds).size, 50);

    await Promise.all([a!.stop(), b!.stop()]);
  });

  test('a worker killed mid-send loses nothing: the message is sent later by another worker', async () => {
    const stalling = await startSmtp();
    stalling.mode = 'stall';
    try {
      const address = `killed-${randomBytes(3).toString('hex')}@example.com`;
      const [id] = await record([address]);
      await server.email.jobs.enqueueEmail(id!);

      // A short lease, so that the test does not wait out the production one.
      const lease = { ...fastEmail({ sendLeaseSeconds: 2 }), ...ROOM };
      const doomed = await spawnWorker(workerEnv(stalling.url), lease);
      workers.push(doomed);
      // The message is on the wire: the SMTP server has its content and never answers.
      await stalling.until((s) => s.stalled >= 1);
      const [sending] = await outboxTo(server, address);
      assert.equal(sending!.status, 'sending');
      assert.equal(sending!.attempts, 1);
      await doomed.kill();

      const rescuer = await spawnWorker(workerEnv(smtp.url), lease);
      workers.push(rescuer);
      const mail = await smtp.messageTo(address);
      assert.equal(mail.messageId, `<${id}@127.0.0.1>`, 'the same message, not a copy');
      const sent = await eventually(async () => {
        const [m] = await outboxTo(server, address);
        return m?.status === 'sent' && m;
      });
      assert.equal(sent.attempts, 2, 'the interrupted attempt counts');
      assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(address)).length, 1);
      await rescuer.stop();
    } finally {
      await stalling.stop();
    }
  });
});
