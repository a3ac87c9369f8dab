import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { forms, type Page } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, fastEmail, PersonBrowser } from '../email/support.ts';

/** Issue 12, "sign-out that signs out": every way out of /account, and /logout, end what they say. */
describe(`signing out of /account (${STORAGE})`, () => {
  const { server } = useServer({ env: { ...BEHIND_PROXY }, overrides: fastEmail() });
  let rp: oidc.Configuration;

  before(async () => {
    rp = await rpConfig(server, await createClient(server, { name: 'Photo Album' }));
  });

  /** Opens /account as a person does: it sends them through /login and back. */
  async function openAccount(user: TestUser) {
    const browser = new PersonBrowser();
    const login = await browser.follow(`${server.url}/account`);
    assert.match(login.body, /name="password"/, 'not signed in: /account sends to the login page');
    const page = await browser.submit(login, { login: user.email, password: user.password }, { field: 'login' });
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.match(page.body, /Your account/);
    return { browser, page };
  }

  /** Submits the form of `page` whose action ends with `action` (these forms have no field of their own). */
  function post(browser: PersonBrowser, page: Page, action: string, extra: (fields: Record<string, string>) => boolean = () => true) {
    const form = forms(page.body, page.url).find((f) => f.action.endsWith(action) && extra(f.fields));
    assert.ok(form, `the page has a form posting to ${action}`);
    assert.ok(form.fields._csrf, 'the form carries its CSRF token');
    return browser.follow(form.action, { method: form.method, form: form.fields });
  }

  const asksToSignIn = async (browser: PersonBrowser) => assert.match((await browser.follow(`${server.url}/account`)).body, /name="password"/);
  const showsAccount = async (browser: PersonBrowser) => assert.match((await browser.follow(`${server.url}/account`)).body, /Your account/);
  const refreshCookie = (browser: PersonBrowser) => browser.cookies.get(new URL(server.url).host)?.get('gatehouse_rt');

  /** Whether a first-party refresh token still works: POST /session/refresh as a page of Gatehouse. */
  async function refreshes(token: string) {
    const res = await fetch(`${server.url}/session/refresh`, { method: 'POST', headers: { origin: server.url, cookie: `gatehouse_rt=${token}` } });
    await res.body?.cancel();
    return res.status === 200;
  }

  async function thirdPartyRefreshToken(user: TestUser) {
    const signedIn = await authorize(server, rp, user, { scope: 'openid offline_access' });
    const tokens = await oidc.authorizationCodeGrant(rp, signedIn.callbackUrl, { pkceCodeVerifier: signedIn.verifier, expectedState: signedIn.state });
    return tokens.refresh_token!;
  }

  const refused = (err: oidc.ResponseBodyError) => err.error === 'invalid_grant';

  test('"Sign out" on /account: /account then asks to sign in, and the refresh family is revoked server-side', async () => {
    const user = await createUser(server);
    const { browser, page } = await openAccount(user);
    const rt = refreshCookie(browser);
    assert.ok(rt, 'signed in: a first-party refresh cookie');
    const out = await post(browser, page, '/account/sign-out');
    assert.equal(out.status, 200);
    assert.match(out.body, /You are signed out/);
    assert.equal(refreshCookie(browser), undefined, 'the refresh cookie is cleared');
    await asksToSignIn(browser);
    assert.equal(await refreshes(rt), false, 'a copy of the refresh token no longer works');
  });

  test('/logout (OIDC) ends the first-party session too: /account asks to sign in', async () => {
    const user = await createUser(server);
    const { browser } = await openAccount(user);
    const rt = refreshCookie(browser)!;
    const confirm = await browser.follow(`${server.url}/logout`);
    const form = forms(confirm.body, confirm.url).find((f) => 'xsrf' in f.fields);
    assert.ok(form, 'the logout confirmation');
    const done = await browser.follow(form.action, { form: { ...form.fields, logout: 'yes' } });
    assert.equal(done.status, 200);
    await asksToSignIn(browser);
    // The revocation is not awaited by the provider's event: give it a moment.
    let revoked = false;
    for (let i = 0; i < 40 && !revoked; i++) {
      revoked = !(await refreshes(rt));
      if (!revoked) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(revoked, 'the refresh family of that browser is revoked');
  });

  test('"Sign out other sessions" keeps this browser and ends another browser and an app\'s tokens', async () => {
    const user = await createUser(server);
    const appRefresh = await thirdPartyRefreshToken(user);
    const other = await openAccount(user);
    const { browser, page } = await openAccount(user);
    const after = await post(browser, page, '/account/sessions/others');
    assert.equal(after.status, 200);
    assert.match(after.body, /Every other session of your account is signed out/);
    await showsAccount(browser);
    await asksToSignIn(other.browser);
    await assert.rejects(oidc.refreshTokenGrant(rp, appRefresh), refused);
    // The kept session refreshes like any other.
    assert.equal(await refreshes(refreshCookie(browser)!), true);
  });

  test('"Sign out everywhere" is styled as destructive and ends this browser and the other', async () => {
    const user = await createUser(server);
    const other = await openAccount(user);
    const { browser, page } = await openAccount(user);
    assert.match(page.body, /<button type="submit" class="[^"]*\bdanger\b[^"]*">Sign out everywhere</);
    const after = await post(browser, page, '/account/sessions');
    assert.match(after.body, /You are signed out everywhere/);
    await asksToSignIn(browser);
    await asksToSignIn(other.browser);
  });

  test('the apps consented to are listed; "remove access" revokes that app\'s grant and tokens', async () => {
    const user = await createUser(server);
    const appRefresh = await thirdPartyRefreshToken(user);
    const { browser, page } = await openAccount(user);
    assert.match(page.body, /Photo Album/);
    const after = await post(browser, page, '/account/apps/remove', (fields) => fields.client_id === rp.clientMetadata().client_id);
    assert.equal(after.status, 200);
    assert.match(after.body, /access is removed/);
    assert.doesNotMatch(after.body, /Photo Album/);
    await assert.rejects(oidc.refreshTokenGrant(rp, appRefresh), refused);
    await showsAccount(browser);
  });
});
