import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Browser, forms } from '../helpers/browser.ts';
import { useServer } from '../helpers/server.ts';
import { EVERY_SECOND, eventually, fastEmail, outboxTo } from './support.ts';

// Without SMTP_URL and without the dev mailbox (as in production), mail cannot leave: it must
// wait in the outbox for SMTP_URL, not run out of attempts and die (README, "E-mail and jobs").
describe('no mail transport configured', () => {
  const ctx = useServer({ env: { DEV_FEATURES: 'false', EMAIL_RESEND_CRON: EVERY_SECOND }, overrides: fastEmail({ maxAttempts: 2 }) });

  test('messages keep waiting past the attempt limit instead of going dead', async () => {
    const browser = new Browser();
    const page = await browser.request(`${ctx.server.url}/register`);
    const form = forms(page.body, page.url).find((f) => f.method === 'POST')!;
    const email = 'waiting-for-smtp@example.com';
    const res = await browser.request(form.action, { form: { ...form.fields, name: 'Patient', email, password: 'a perfectly fine passphrase' } });
    assert.equal(res.status, 303);

    const message = await eventually(async () => {
      const [m] = await outboxTo(ctx.server, email);
      // Not while a worker holds it (`sending`, its attempt already counted): that is no outcome yet.
      return m && m.status !== 'sending' && (m.status === 'dead' || m.attempts > 2) ? m : undefined;
    });
    assert.equal(message.status, 'failed');
    assert.match(message.lastError ?? '', /SMTP_URL is not set/);
  });
});
