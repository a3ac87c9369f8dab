import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually, fastEmail, outboxTo, PersonBrowser } from './support.ts';

const PASSWORD = 'a long and unguessable passphrase';

async function register(server: TestServer, email: string) {
  const browser = new PersonBrowser();
  const page = await browser.submit(await browser.request(`${server.url}/register`), { name: 'Dev', email, password: PASSWORD }, { field: 'email' });
  assert.equal(page.status, 200);
}

interface MailboxEntry {
  to: string;
  subject: string;
  text: string;
  html: string;
  date: string;
}

describe(`dev mailbox: no SMTP_URL, outside production (${STORAGE})`, () => {
  const { server } = useServer({ env: { ...BEHIND_PROXY }, overrides: fastEmail() });

  test('messages are delivered to /dev/mailbox(.json), newest first, and their links work', async () => {
    const first = `first-${randomBytes(4).toString('hex')}@example.com`;
    const second = `second-${randomBytes(4).toString('hex')}@example.com`;
    await register(server, first);
    await eventually(async () => (await outboxTo(server, first))[0]?.status === 'sent');
    await register(server, second);
    await eventually(async () => (await outboxTo(server, second))[0]?.status === 'sent');

    const res = await fetch(`${server.url}/dev/mailbox.json`);
    assert.equal(res.status, 200);
    const mailbox = (await res.json()) as MailboxEntry[];
    assert.deepEqual(Object.keys(mailbox[0]!).sort(), ['date', 'html', 'subject', 'text', 'to']);
    assert.deepEqual(
      mailbox.map((m) => m.to),
      [second, first],
      'newest first',
    );
    assert.equal(mailbox[0]!.subject, 'Confirm your e-mail address');
    assert.ok(Date.parse(mailbox[0]!.date) >= Date.parse(mailbox[1]!.date));

    const link = mailbox[1]!.text.split(/\s+/).find((w) => w.startsWith(`${server.url}/verify-email?token=`));
    assert.ok(link);
    const confirmed = await new PersonBrowser().follow(link);
    assert.match(confirmed.body, /Your e-mail address is confirmed/);

    const html = await fetch(`${server.url}/dev/mailbox`);
    assert.equal(html.status, 200);
    assert.match(await html.text(), new RegExp(second.replace(/[.]/g, '\\.')));

    const [message] = await outboxTo(server, second);
    const part = await fetch(`${server.url}/dev/mailbox/${message!.id}.html`);
    assert.equal(part.status, 200);
    assert.match(part.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.match(await part.text(), /Confirm my e-mail address/);
  });
});

describe(`without SMTP_URL and without dev features (${STORAGE})`, () => {
  const { server } = useServer({ env: { DEV_FEATURES: 'false', ...BEHIND_PROXY }, overrides: fastEmail() });

  test('there is no mailbox; messages wait in the outbox as failed until SMTP_URL is set', async () => {
    assert.equal((await fetch(`${server.url}/dev/mailbox.json`)).status, 404);
    assert.equal((await fetch(`${server.url}/dev/mailbox`)).status, 404);
    const email = `nomail-${randomBytes(4).toString('hex')}@example.com`;
    await register(server, email);
    const failed = await eventually(async () => {
      const [m] = await outboxTo(server, email);
      return m?.status === 'failed' && m;
    });
    assert.equal(failed.lastError, 'SMTP_URL is not set');
  });
});
