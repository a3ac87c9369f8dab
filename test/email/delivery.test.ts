import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { RESEND_FAILED_EMAIL } from '../../src/jobs/email.jobs.ts';
import type { OutboxMessage } from '../../src/email/outbox.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';
import { startSmtp, type TestSmtp } from './smtp.ts';
import { eventually, EVERY_SECOND, fastEmail, outboxTo } from './support.ts';

const PASSWORD = 'a long and unguessable passphrase';
const newEmail = () => `dlv-${randomBytes(4).toString('hex')}@example.com`;

async function registerThroughForm(server: TestServer, email: string) {
  const browser = new Browser();
  const page = await browser.submit(await browser.request(`${server.url}/register`), { name: 'Pat', email, password: PASSWORD }, { field: 'email' });
  assert.equal(page.status, 200);
  assert.match(page.body, /Check your e-mail/);
}

/** Resolves after `n` more runs of the resend job in this server's inline worker. */
function resendRuns(server: TestServer, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onRun = () => {
      if (++seen < n) return;
      server.email.jobs.agenda.off(`complete:${RESEND_FAILED_EMAIL}`, onRun);
      resolve();
    };
    server.email.jobs.agenda.on(`complete:${RESEND_FAILED_EMAIL}`, onRun);
  });
}

const onlyMessage = async (server: TestServer, email: string): Promise<OutboxMessage> => {
  const messages = await outboxTo(server, email);
  assert.equal(messages.length, 1, `one outbox message for ${email}`);
  return messages[0]!;
};

describe(`e-mail delivery: failures, retries and dead letters (${STORAGE})`, () => {
  let smtp: TestSmtp;
  before(async () => {
    smtp = await startSmtp();
  });
  const { server, storage } = useServer({ env: () => ({ SMTP_URL: smtp.url, EMAIL_RESEND_CRON: EVERY_SECOND }), overrides: fastEmail() });
  after(async () => {
    await smtp?.stop();
  });

  test('SMTP down at registration: the account exists, the message is failed, and the resend job delivers it exactly once when SMTP is back', async () => {
    const email = newEmail();
    await smtp.stop();
    try {
      await registerThroughForm(server, email);
      const account = await server.services.accounts.repo.findByLogin(email);
      assert.ok(account, 'the account exists');
      assert.equal(account.emailVerifiedAt, null);

      const failed = await eventually(async () => {
        const m = await onlyMessage(server, email);
        return m.status === 'failed' && m;
      });
      assert.equal(failed.accountId, account.id);
      assert.match(failed.lastError ?? '', /ECONNREFUSED|ECONNECTION/);
      assert.ok(failed.nextAttemptAt > failed.updatedAt, 'the retry waits');
    } finally {
      await smtp.start();
    }

    await smtp.messageTo(email);
    const sent = await eventually(async () => {
      const m = await onlyMessage(server, email);
      return m.status === 'sent' && m;
    });
    assert.ok(sent.attempts >= 2);
    // The resend job keeps running; the sent message is never sent again.
    await resendRuns(server, 3);
    assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(email)).length, 1);
  });

  test('SMTP answering 550 marks the message dead without retrying; `outbox retry` sends it again', async () => {
    const email = newEmail();
    smtp.mode = 'reject-550';
    let dead: OutboxMessage;
    try {
      await registerThroughForm(server, email);
      dead = await eventually(async () => {
        const m = await onlyMessage(server, email);
        return m.status === 'dead' && m;
      });
      assert.equal(dead.attempts, 1);
      assert.match(dead.lastError ?? '', /550/);
      await resendRuns(server, 3);
      const still = await onlyMessage(server, email);
      assert.equal(still.status, 'dead');
      assert.equal(still.attempts, 1, 'a 5xx answer is never retried');
    } finally {
      smtp.mode = 'accept';
    }

    const env = { ...storage.env };
    const listed = await runCli(['outbox', '--status', 'dead'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.id === dead.id);
    assert.ok(line, 'outbox --status dead lists the message');
    assert.equal(line.status, 'dead');
    assert.equal(line.to, email);
    assert.ok(lines.every((l) => l.status === 'dead'));
    assert.ok(!listed.stdout.includes('token'), 'the listing carries no link token');

    const retried = await runCli(['outbox', 'retry', dead.id], env);
    assert.equal(retried.code, 0, retried.stderr);
    const printed = JSON.parse(retried.stdout) as Record<string, unknown>;
    assert.equal(printed.id, dead.id);
    assert.equal(printed.status, 'queued');
    assert.equal(printed.attempts, 0);

    await smtp.messageTo(email);
    await eventually(async () => (await onlyMessage(server, email)).status === 'sent');

    const again = await runCli(['outbox', 'retry', dead.id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /only dead or failed messages are retried/);
    const bad = await runCli(['outbox', '--status', 'lost'], env);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /--status: got "lost"/);
  });

  test('a 4xx answer is retried with backoff until it is accepted', async () => {
    const email = newEmail();
    smtp.mode = 'reject-451';
    try {
      await registerThroughForm(server, email);
      const failed = await eventually(async () => {
        const m = await onlyMessage(server, email);
        return m.status === 'failed' && m;
      });
      assert.match(failed.lastError ?? '', /451/);
    } finally {
      smtp.mode = 'accept';
    }
    await smtp.messageTo(email);
    await eventually(async () => (await onlyMessage(server, email)).status === 'sent');
    assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(email)).length, 1);
  });

  test('CR/LF in a name never becomes a header: one recipient, no Bcc', async () => {
    const address = newEmail();
    const { knex } = server.services;
    const message = await knex.transaction((trx) =>
      server.email.outbox.record({ accountId: null, to: { address, name: 'Eve\r\nBcc: victim@example.com\r\nX-Evil: 1' }, template: 'account-exists' }, trx),
    );
    await server.email.jobs.enqueueEmail(message.id);
    const mail = await smtp.messageTo(address);
    assert.deepEqual(mail.envelopeTo, [address]);
    assert.equal(mail.headers.get('bcc'), undefined);
    assert.equal(mail.headers.get('x-evil'), undefined);
    assert.doesNotMatch(mail.raw.split('\r\n\r\n')[0]!, /^Bcc:/im);
    assert.match(mail.headers.get('to') ?? '', new RegExp(address.replace(/[.]/g, '\\.')));
  });
});

describe(`e-mail delivery: attempts run out (${STORAGE})`, () => {
  let smtp: TestSmtp;
  before(async () => {
    smtp = await startSmtp();
    await smtp.stop();
  });
  const { server } = useServer({ env: () => ({ SMTP_URL: smtp.url, EMAIL_RESEND_CRON: EVERY_SECOND }), overrides: fastEmail({ maxAttempts: 3, retryBaseSeconds: 0 }) });

  test('a message that keeps failing is marked dead after the configured number of attempts', async () => {
    const email = newEmail();
    await registerThroughForm(server, email);
    const dead = await eventually(async () => {
      const m = await onlyMessage(server, email);
      return m.status === 'dead' && m;
    });
    assert.equal(dead.attempts, 3);
    assert.match(dead.lastError ?? '', /ECONNREFUSED|ECONNECTION/);
    await resendRuns(server, 2);
    assert.equal((await onlyMessage(server, email)).attempts, 3);
  });
});
