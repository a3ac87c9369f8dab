import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, type Page } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually, fastEmail, outboxTo, PersonBrowser } from '../email/support.ts';

/** A browser whose every request (redirects included) says which languages it prefers. */
class SpeakingBrowser extends PersonBrowser {
  readonly languages: string;
  constructor(languages: string) {
    super();
    this.languages = languages;
  }
  override request(url: string, init: Parameters<Browser['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'accept-language': this.languages, ...init.headers } });
  }
}

const htmlLang = (page: Page) => /<html lang="([^"]*)"/.exec(page.body)?.[1];

describe(`languages: English and Vietnamese, by ui_locales, the lang cookie, Accept-Language (${STORAGE})`, () => {
  const { server } = useServer({ env: { ...BEHIND_PROXY }, overrides: fastEmail() });
  let rp: oidc.Configuration;

  before(async () => {
    rp = await rpConfig(server, await createClient(server));
  });

  /** The login page of a new authorization request, with `extra` parameters. */
  async function loginPage(browser: Browser, extra: Record<string, string> = {}) {
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      ...extra,
    });
    const page = await browser.follow(url.toString());
    assert.equal(page.status, 200);
    return page;
  }

  /** Sets the lang cookie through the switcher, as a click would. */
  async function switchTo(browser: Browser, to: string) {
    const res = await browser.request(`${server.url}/lang?to=${to}&return=/login`);
    assert.equal(res.status, 303);
    return res;
  }

  test('English by default, with <html lang="en"> and a switcher', async () => {
    const page = await loginPage(new SpeakingBrowser('de-DE, fr;q=0.8'));
    assert.equal(htmlLang(page), 'en');
    assert.match(page.body, /<h1>Sign in<\/h1>/);
    // Handlebars escapes `=` as `&#x3D;`.
    const switcher = /href="(\/lang\?[^"]+)"[^>]*>Tiếng Việt</.exec(page.body)?.[1]?.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
    assert.equal(switcher, `/lang?to=vi&return=${encodeURIComponent(new URL(page.url).pathname)}`, 'a link to Vietnamese that comes back here');
  });

  test('Accept-Language: vi gives the login page in Vietnamese', async () => {
    const page = await loginPage(new SpeakingBrowser('vi-VN,vi;q=0.9,en;q=0.5'));
    assert.equal(htmlLang(page), 'vi');
    assert.match(page.body, /<h1>Đăng nhập<\/h1>/);
    assert.match(page.body, /Quên mật khẩu\?/);
  });

  test('the lang cookie beats Accept-Language', async () => {
    const browser = new SpeakingBrowser('en-US,en');
    await switchTo(browser, 'vi');
    const page = await loginPage(browser);
    assert.equal(htmlLang(page), 'vi');
    assert.match(page.body, /<h1>Đăng nhập<\/h1>/);

    const other = new SpeakingBrowser('vi');
    await switchTo(other, 'en');
    assert.equal(htmlLang(await loginPage(other)), 'en');
  });

  test('ui_locales on the authorization request beats the cookie', async () => {
    const browser = new SpeakingBrowser('en');
    await switchTo(browser, 'en');
    const vi = await loginPage(browser, { ui_locales: 'fr vi' });
    assert.equal(htmlLang(vi), 'vi');
    assert.match(vi.body, /<h1>Đăng nhập<\/h1>/);

    const viBrowser = new SpeakingBrowser('vi');
    await switchTo(viBrowser, 'vi');
    const en = await loginPage(viBrowser, { ui_locales: 'en-GB' });
    assert.equal(htmlLang(en), 'en');
    assert.match(en.body, /<h1>Sign in<\/h1>/);
  });

  test('the switcher sets a year-long SameSite=Lax cookie and returns to same-origin paths only', async () => {
    const browser = new Browser();
    const res = await browser.request(`${server.url}/lang?to=vi&return=${encodeURIComponent('/forgot-password?x=1')}`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/forgot-password?x=1');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('lang='));
    assert.ok(cookie, 'sets lang');
    assert.match(cookie, /^lang=vi;/);
    assert.match(cookie, /Max-Age=31536000/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\//);
    const page = await browser.request(`${server.url}/forgot-password`);
    assert.equal(htmlLang(page), 'vi');
    assert.match(page.body, /Quên mật khẩu\?/);

    for (const evil of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'account']) {
      const r = await new Browser().request(`${server.url}/lang?to=vi&return=${encodeURIComponent(evil)}`);
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), '/account', `no redirect to ${evil}`);
    }
    const unknown = await new Browser().request(`${server.url}/lang?to=xx&return=/login`);
    assert.equal(unknown.status, 303);
    assert.equal(unknown.headers.getSetCookie().filter((c) => c.startsWith('lang=')).length, 0, 'an unknown language sets nothing');
  });

  test('a registration made in Vietnamese gets its confirmation e-mail in Vietnamese', async () => {
    const email = `vi-${randomBytes(4).toString('hex')}@example.com`;
    const browser = new PersonBrowser();
    await switchTo(browser, 'vi');
    const form = await browser.request(`${server.url}/register`);
    assert.equal(htmlLang(form), 'vi');
    const sent = await browser.submit(form, { name: 'Nguyễn Văn An', email, password: 'a long and unguessable passphrase' }, { field: 'email' });
    assert.equal(sent.status, 200);
    assert.match(sent.body, /Hãy kiểm tra e-mail của bạn/);

    await eventually(async () => (await outboxTo(server, email))[0]?.status === 'sent');
    const mailbox = (await (await fetch(`${server.url}/dev/mailbox.json`)).json()) as { to: string; subject: string; text: string; html: string }[];
    const mail = mailbox.find((m) => m.to === email);
    assert.ok(mail);
    assert.equal(mail.subject, 'Xác nhận địa chỉ e-mail của bạn');
    assert.match(mail.text, /hết hạn sau 24 giờ/);
    assert.match(mail.html, /Xác nhận địa chỉ e-mail của tôi/);

    // The same mail caused in English stays English, whatever the last page was.
    const english = `en-${randomBytes(4).toString('hex')}@example.com`;
    const other = new PersonBrowser();
    await other.submit(await other.request(`${server.url}/register`), { name: 'Ann', email: english, password: 'a long and unguessable passphrase' }, { field: 'email' });
    await eventually(async () => (await outboxTo(server, english))[0]?.status === 'sent');
    const all = (await (await fetch(`${server.url}/dev/mailbox.json`)).json()) as { to: string; subject: string }[];
    assert.equal(all.find((m) => m.to === english)?.subject, 'Confirm your e-mail address');
  });

  test("the accounts' own messages (a password rule, a field problem) speak the language too", async () => {
    const browser = new PersonBrowser();
    await switchTo(browser, 'vi');
    const refused = await browser.submit(await browser.request(`${server.url}/register`), { name: 'An', email: 'not-an-address', password: 'short' }, { field: 'email' });
    assert.equal(refused.status, 400);
    assert.equal(htmlLang(refused), 'vi');
    assert.match(refused.body, /Dùng ít nhất 12 ký tự\./);
    assert.match(refused.body, /Nhập một địa chỉ e-mail hợp lệ\./);
    assert.match(refused.body, /Vui lòng sửa các trường được đánh dấu\./);
  });

  test('error pages speak the language too', async () => {
    const browser = new Browser();
    await switchTo(browser, 'vi');
    const page = await browser.request(`${server.url}/no-such-page`);
    assert.equal(page.status, 404);
    assert.equal(htmlLang(page), 'vi');
    assert.match(page.body, /Trang này không tồn tại\./);

    // oidc-provider's own error page (an unknown client), in the language of its ui_locales.
    const provider = await new Browser().request(`${server.url}/auth?client_id=nobody&response_type=code&scope=openid&ui_locales=vi`);
    assert.equal(provider.status, 400);
    assert.equal(htmlLang(provider), 'vi');
    assert.match(provider.body, /Đã xảy ra lỗi/);
  });

  test('the logout page follows its own ui_locales', async () => {
    const user = await createUser(server);
    const { browser } = await authorize(server, rp, user, { browser: new SpeakingBrowser('en') });
    const page = await browser.request(`${server.url}/logout?ui_locales=vi`);
    assert.equal(page.status, 200);
    assert.equal(htmlLang(page), 'vi');
    assert.match(page.body, /Có, đăng xuất/);
  });

  test('discovery lists ui_locales_supported', async () => {
    const res = await fetch(`${server.url}/.well-known/openid-configuration`);
    const discovery = (await res.json()) as { ui_locales_supported?: string[] };
    assert.deepEqual(discovery.ui_locales_supported, ['en', 'vi']);
  });
});
