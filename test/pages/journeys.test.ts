import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { type Page } from '../helpers/browser.ts';
import { PASSWORD } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually, fastEmail, outboxTo, PersonBrowser } from '../email/support.ts';

const unique = (what: string) => `${what}-${randomBytes(3).toString('hex')}`;
const h1 = (page: Page) => /<h1>([^<]*)<\/h1>/.exec(page.body)?.[1];
const decode = (s: string) => s.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');

describe(`journeys: check your e-mail, the dev mailbox, used links, errors, international addresses (${STORAGE})`, () => {
  const { server } = useServer({ env: { ...BEHIND_PROXY }, overrides: fastEmail() });

  async function register(browser: PersonBrowser, email: string) {
    const form = await browser.request(`${server.url}/register`);
    return browser.submit(form, { name: 'Ada', email, password: PASSWORD });
  }

  /** The confirmation link of the newest verify e-mail to `email`, once sent, from the dev mailbox's JSON. */
  async function linkTo(email: string) {
    await eventually(async () => (await outboxTo(server, email)).some((m) => m.template === 'verify-email' && m.status === 'sent'));
    const mail = (await (await fetch(`${server.url}/dev/mailbox.json`)).json()) as { to: string; text: string }[];
    return /(http\S+\/verify-email\?token=\S+)/.exec(mail.find((m) => m.to === email)!.text)![1]!;
  }

  test('"check your e-mail" names the address, offers to send again, and links to the dev mailbox', async () => {
    const browser = new PersonBrowser();
    const email = `${unique('sent')}@example.com`;
    const sent = await register(browser, email);
    assert.equal(sent.status, 200);
    assert.equal(h1(sent), 'Check your e-mail');
    assert.match(sent.body, new RegExp(`We sent a message to <strong class="address">${email}</strong>`));
    assert.match(sent.body, /<a href="\/dev\/mailbox">Open the dev mailbox<\/a>/, 'in development, the way to the mail');
    assert.doesNotMatch(sent.url, /example\.com/, 'the address is not in the URL');
    // "Send again" posts the same address (a plain form with a hidden field).
    const again = await browser.submit(sent, {}, { field: 'email' });
    assert.equal(h1(again), 'Check your e-mail');
    assert.match(again.body, new RegExp(`<strong class="address">${email}</strong>`));
  });

  test('the dev mailbox fits a phone and its links can be clicked', async () => {
    const email = `${unique('mailbox')}@example.com`;
    await register(new PersonBrowser(), email);
    const link = await linkTo(email);
    const page = await new PersonBrowser().request(`${server.url}/dev/mailbox`);
    assert.match(page.body, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(page.body, /<main class="card wide">/);
    assert.match(page.body, /<pre class="mail-text">/, 'the text wraps (pre-wrap in the stylesheet)');
    const anchors = [...page.body.matchAll(/<a href="([^"]+)">/g)].map((m) => decode(m[1]!));
    assert.ok(anchors.includes(link), 'the confirmation link is a link');
  });

  test('a confirmation link opened again, once the address is confirmed, says so and offers sign-in', async () => {
    const email = `${unique('twice')}@example.com`;
    await register(new PersonBrowser(), email);
    const link = await linkTo(email);
    const first = await new PersonBrowser().follow(link);
    assert.equal(h1(first), 'Your e-mail address is confirmed');
    const second = await new PersonBrowser().follow(link);
    assert.equal(second.status, 200);
    assert.equal(h1(second), 'This address is already confirmed');
    assert.match(second.body, /<a href="\/login">Sign in<\/a>/);
    // A link that was never valid is still a problem.
    const bogus = await new PersonBrowser().request(`${server.url}/verify-email?token=${'A'.repeat(43)}`);
    assert.equal(bogus.status, 400);
  });

  test('a missing page is a friendly 404 with a reference, never a raw code', async () => {
    const page = await new PersonBrowser().request(`${server.url}/no/such/page`);
    assert.equal(page.status, 404);
    assert.equal(h1(page), 'Page not found');
    assert.doesNotMatch(page.body, /NOT_FOUND|<code>[A-Z_]+<\/code>/);
    const reference = /<p class="reference">[^<]*<code>([^<]+)<\/code>/.exec(page.body)?.[1];
    assert.match(reference ?? '', /^[0-9a-f-]{36}$/, 'a request id as reference');
    const other = await new PersonBrowser().request(`${server.url}/no/such/page`);
    assert.notEqual(/<code>([^<]+)<\/code>/.exec(other.body)?.[1], reference, 'each request its own');
    // The same, in Vietnamese.
    const vi = await new PersonBrowser().request(`${server.url}/nowhere`, { headers: { 'accept-language': 'vi' } });
    assert.equal(h1(vi), 'Không tìm thấy trang');
  });

  test('an error page of a refused form (CSRF) has a headline and a reference, not the code', async () => {
    const page = await new PersonBrowser().request(`${server.url}/forgot-password`, { form: { email: 'a@example.com' } });
    assert.equal(page.status, 403);
    assert.equal(h1(page), 'This action is not allowed');
    assert.doesNotMatch(page.body, /CSRF_FAILED/);
    assert.match(page.body, /<p class="reference">/);
  });

  test('an internationalised domain is accepted and compared in ASCII; a non-ASCII local part is refused with its reason', async () => {
    const local = unique('ana');
    const browser = new PersonBrowser();
    const sent = await register(browser, `${local}@bücher.example`);
    assert.equal(h1(sent), 'Check your e-mail', sent.body.slice(0, 400));
    const account = await server.services.accounts.repo.findByLogin(`${local}@xn--bcher-kva.example`);
    assert.ok(account, 'found by the ASCII form of the domain');
    // The same address in its punycode spelling is the same account: no second one.
    await register(new PersonBrowser(), `${local}@xn--bcher-kva.example`);
    const mails = await eventually(async () => {
      // To the address as the owner typed it.
      const list = (await outboxTo(server, `${local}@bücher.example`)).filter((m) => m.template === 'account-exists');
      return list.length > 0 && list;
    });
    assert.equal(mails[0]!.template, 'account-exists', 'the owner is told someone tried again');

    const form = await browser.request(`${server.url}/register`);
    const refused = await browser.submit(form, { name: 'Zoë', email: 'zoë@example.com', password: PASSWORD });
    assert.equal(refused.status, 400);
    assert.match(refused.body, /The part before the @ may only use Latin letters/);
  });
});
