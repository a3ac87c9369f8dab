import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { defaults } from '../../config/defaults.ts';
import { CAPTCHA_FAILED, PASSWORD_RESET_REQUESTED, REGISTERED } from '../../src/security/events.ts';
import { forms } from '../helpers/browser.ts';
import { createUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually, fastEmail, PersonBrowser } from '../email/support.ts';

// The provider's siteverify is the one thing outside Gatehouse: a local HTTP server answers in
// its place, accepting exactly the tokens it handed out.
describe(`captcha on registration and reset requests (${STORAGE})`, () => {
  let siteverify: Server;
  const issued = new Set<string>();

  before(async () => {
    siteverify = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const success = issued.has(new URLSearchParams(body).get('response') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success, ...(success ? {} : { 'error-codes': ['invalid-input-response'] }) }));
      });
    });
    await new Promise<void>((resolve) => siteverify.listen(0, '127.0.0.1', resolve));
  });
  const { server } = useServer({
    env: () => ({
      ...BEHIND_PROXY,
      CAPTCHA_PROVIDER: 'turnstile',
      CAPTCHA_SITE_KEY: 'site-key-for-tests',
      CAPTCHA_SECRET: 'captcha-secret-for-tests',
      CAPTCHA_VERIFY_URL: `http://127.0.0.1:${(siteverify.address() as { port: number }).port}/siteverify`,
    }),
    // Every registration solves the captcha here; the busy-address ladder is test/pages/busy-address.test.ts.
    overrides: { ...fastEmail(), rateLimits: { ...defaults.rateLimits, register: { ...defaults.rateLimits.register, captchaAfter: 0 } } },
  });
  after(async () => {
    siteverify.closeAllConnections();
    await new Promise((resolve) => siteverify.close(resolve));
  });

  const solved = () => {
    const token = `tok_${randomBytes(16).toString('base64url')}`;
    issued.add(token);
    return { 'cf-turnstile-response': token };
  };

  test('registration shows the widget, refuses a missing or wrong token, accepts a solved one', async () => {
    const email = `cap-${randomBytes(4).toString('hex')}@example.com`;
    const browser = new PersonBrowser();
    const form = await browser.request(`${server.url}/register`);
    assert.match(form.body, /data-sitekey="site-key-for-tests"/);
    const values = { name: 'Cap', email, password: 'a long and unguessable passphrase' };

    const missing = await browser.submit(form, values, { field: 'email' });
    assert.equal(missing.status, 400);
    assert.ok(forms(missing.body, missing.url).some((f) => f.fields.email === email), 'the form comes back with what was typed');
    const wrong = await browser.submit(form, { ...values, 'cf-turnstile-response': 'made-up' }, { field: 'email' });
    assert.equal(wrong.status, 400);
    assert.equal(await server.services.accounts.repo.findByLogin(email), undefined, 'no account without a solved captcha');

    const done = await browser.submit(form, { ...values, ...solved() }, { field: 'email' });
    assert.equal(done.status, 200);
    assert.match(done.body, /Check your e-mail/);
    const account = await server.services.accounts.repo.findByLogin(email);
    assert.ok(account);

    const { events } = server.services.security;
    assert.equal((await events.list({ type: REGISTERED, accountId: account.id })).length, 1);
    assert.ok((await events.list({ type: CAPTCHA_FAILED })).length >= 2);
  });

  test('a reset request needs a solved captcha, for known and unknown addresses alike', async () => {
    const user = await createUser(server);
    const browser = new PersonBrowser();
    const form = await browser.request(`${server.url}/forgot-password`);
    assert.match(form.body, /data-sitekey="site-key-for-tests"/);
    for (const email of [user.email, `nobody-${randomBytes(4).toString('hex')}@example.com`]) {
      const refused = await browser.submit(form, { email }, { field: 'email' });
      assert.equal(refused.status, 400);
    }
    const sent = await browser.submit(form, { email: user.email, ...solved() }, { field: 'email' });
    assert.equal(sent.status, 200);
    assert.match(sent.body, /If an account with this address exists/);
    const { events } = server.services.security;
    await eventually(async () => (await events.list({ type: PASSWORD_RESET_REQUESTED, accountId: user.id })).length === 1);
  });
});
