import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { Browser } from '../helpers/browser.ts';
import { tcpProxy } from '../helpers/proxy.ts';
import { TEST_DATABASE_URL, useServer } from '../helpers/server.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';
import { eventually, fastEmail } from './support.ts';

// Found by test/ops/outage.test.ts: a message the SMTP server took while Postgres went away
// stayed 'sending' until its lease ran out (5 minutes), and then the resend job sent it again.
// Its 'sent' is recorded once Postgres is back.
describe('an e-mail sent while the database goes away', { skip: !TEST_DATABASE_URL && 'needs DATABASE_URL' }, () => {
  let smtp: TestSmtp;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let direct: Knex;
  before(async () => {
    smtp = await startSmtp();
    const url = new URL(TEST_DATABASE_URL!);
    proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  // The server reaches its database through the proxy; the test reads it directly.
  const { server, storage } = useServer({
    storage: { redis: false },
    env: ({ storage }) => {
      const url = new URL(storage.env.DATABASE_URL!);
      url.host = `127.0.0.1:${proxy.port}`;
      return { DATABASE_URL: url.toString(), SMTP_URL: smtp.url };
    },
    overrides: fastEmail(),
  });
  before(() => {
    direct = knexFactory({ client: 'pg', connection: storage.env.DATABASE_URL!, pool: { min: 0, max: 1 } });
  });
  after(async () => {
    proxy?.resume();
    await direct?.destroy();
    await smtp?.stop();
    await proxy?.close();
  });

  test("recorded as sent once the database is back, and not sent again", async () => {
    // The database goes away while the SMTP server takes the message, and comes back 1.5 s later.
    smtp.beforeAnswer = async () => {
      smtp.beforeAnswer = undefined;
      proxy.cut();
      setTimeout(() => proxy.resume(), 1_500);
    };
    const email = `sent-${randomBytes(4).toString('hex')}@example.com`;
    const browser = new Browser();
    const form = await browser.request(`${server.url}/register`);
    const sent = await browser.submit(form, { name: 'Ada', email, password: 'a long and unguessable passphrase' }, { field: 'email' });
    assert.equal(sent.status, 200, sent.body.slice(0, 300));

    await smtp.messageTo(email);
    const status = async () => ((await direct('email_outbox').where({ to_address: email }).first()) as { status: string } | undefined)?.status;
    // Well within the 5-minute lease: only a retried record gets there.
    const outcome = await Promise.race([eventually(async () => (await status()) === 'sent'), new Promise((resolve) => setTimeout(() => resolve(false), 15_000))]);
    assert.equal(outcome, true, `the outbox says ${await status()}`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(email)).length, 1, 'sent once');
  });
});
