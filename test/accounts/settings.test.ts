import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { defaults } from '../../config/defaults.ts';
import { createSelfService } from '../../src/accounts/self-service/self-service.ts';
import { changePassword } from '../../src/accounts/settings/settings.service.ts';
import { ValidationError } from '../../src/errors.ts';
import { forms, type Page } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, fastEmail, PersonBrowser } from '../email/support.ts';

/** Waits until the clock's second changes: a sign-in in a revocation's own second counts as before it. */
async function nextSecond() {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe(`/account: name, password, other sessions (${STORAGE})`, () => {
  const { server } = useServer({ env: { ...BEHIND_PROXY }, overrides: fastEmail({ passwordHistory: 3 }) });
  let rp: oidc.Configuration;

  before(async () => {
    rp = await rpConfig(server, await createClient(server));
  });

  /** Opens /account as a person does: it sends them through /login and back. */
  async function openAccount(user: { email: string; password: string }) {
    const browser = new PersonBrowser();
    const login = await browser.follow(`${server.url}/account`);
    assert.match(login.body, /name="password"/, 'not signed in: /account sends to the login page');
    const page = await browser.submit(login, { login: user.email, password: user.password }, { field: 'login' });
    assert.equal(page.status, 200, page.body.slice(0, 300));
    assert.match(page.body, /Your account/);
    return { browser, page };
  }

  async function refreshTokenFor(user: TestUser | { email: string; password: string }) {
    const signedIn = await authorize(server, rp, user, { scope: 'openid offline_access' });
    const tokens = await oidc.authorizationCodeGrant(rp, signedIn.callbackUrl, { pkceCodeVerifier: signedIn.verifier, expectedState: signedIn.state });
    return tokens.refresh_token!;
  }

  const refused = (err: oidc.ResponseBodyError) => err.error === 'invalid_grant';

  test('changes the name; a name with a line break is refused', async () => {
    const user = await createUser(server, { name: 'Old Name' });
    const { browser, page } = await openAccount(user);
    assert.match(page.body, new RegExp(user.email.replace(/[.]/g, '\\.')));
    const saved = await browser.submit(page, { name: 'New Name' }, { field: 'name' });
    assert.equal(saved.status, 200);
    assert.match(saved.body, /Your name is saved/);
    assert.match(saved.body, /value="New Name"/);
    assert.equal((await server.services.accounts.findById(user.id))!.name, 'New Name');

    const bad = await browser.submit(saved, { name: 'Line\r\nBreak' }, { field: 'name' });
    assert.equal(bad.status, 400);
    assert.match(bad.body, /on one line/);
  });

  test('changes the password (current one required, not a recent one); every session ends, this one too', async () => {
    const user = await createUser(server);
    const earlierRefresh = await refreshTokenFor(user);
    const { browser, page } = await openAccount(user);
    const NEW = 'a brand new long passphrase';

    const wrong = await browser.submit(page, { password: 'not the password at all', new_password: NEW }, { field: 'new_password' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /not your current password/);
    const reused = await browser.submit(page, { password: user.password, new_password: user.password }, { field: 'new_password' });
    assert.equal(reused.status, 400);
    assert.match(reused.body, /not used for your last 3 passwords/);
    const changed = await browser.submit(page, { password: user.password, new_password: NEW }, { field: 'new_password' });
    assert.equal(changed.status, 200);
    assert.match(changed.body, /Your password is changed/);
    assert.match(changed.body, /href="\/login"/);

    await assert.rejects(oidc.refreshTokenGrant(rp, earlierRefresh), refused);
    await assert.rejects(authorize(server, rp, user), /got 400/);
    await nextSecond();
    await authorize(server, rp, { email: user.email, password: NEW });
    const here: Page = await browser.follow(`${server.url}/account`);
    assert.match(here.body, /name="password"/, 'the session that made the change ended too: /account asks to sign in');
  });

  test('"sign out everywhere" ends OIDC sessions and refresh tokens issued before it, and this session', async () => {
    const user = await createUser(server);
    const otherRefresh = await refreshTokenFor(user);
    const { browser, page } = await openAccount(user);
    // The form has no field of its own (only its CSRF token): find it by its action.
    const form = forms(page.body, page.url).find((f) => f.action.endsWith('/account/sessions'));
    assert.ok(form, 'the page has a sign-out-others form');
    const after = await browser.follow(form.action, { method: form.method, form: form.fields });
    assert.equal(after.status, 200);
    assert.match(after.body, /You are signed out everywhere/);
    await assert.rejects(oidc.refreshTokenGrant(rp, otherRefresh), refused);
    assert.match((await browser.follow(`${server.url}/account`)).body, /name="password"/);
    await nextSecond();
    await authorize(server, rp, user);
  });

  test('the history rule: a new password differs from the last N (the current one included), older ones may return', async () => {
    const passwords = ['first long passphrase', 'second long passphrase', 'third long passphrase', 'fourth long passphrase'];
    const user = await createUser(server, { password: passwords[0] });
    const { services: gatehouse, email } = server;
    const selfService = createSelfService({
      knex: gatehouse.knex,
      accounts: gatehouse.accounts,
      hasher: gatehouse.hasher,
      outbox: email.outbox,
      enqueueEmail: (id) => email.jobs.enqueueEmail(id),
      config: { email: { ...defaults.email, passwordHistory: 3 } },
      log: server.app.log,
    });
    for (let i = 1; i < passwords.length; i++) {
      await changePassword(selfService, user.id, { password: passwords[i - 1], newPassword: passwords[i] });
    }
    // Current: fourth; the last three are fourth, third, second.
    for (const recent of passwords.slice(1)) {
      await assert.rejects(changePassword(selfService, user.id, { password: passwords[3], newPassword: recent }), ValidationError);
    }
    await changePassword(selfService, user.id, { password: passwords[3], newPassword: passwords[0] });
  });

  test('/account without a session goes to /login', async () => {
    const res = await fetch(`${server.url}/account`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/login');
  });
  test('a field sent twice (issue 8): the account page again with the field marked, nothing changed', async () => {
    const user = await createUser(server, { name: 'Kept Name' });
    const { browser, page } = await openAccount(user);
    const form = forms(page.body, page.url).find((f) => 'name' in f.fields)!;
    const res = await browser.request(form.action, { form: [['_csrf', form.fields._csrf!], ['name', 'One'], ['name', 'Two']] });
    assert.equal(res.status, 400);
    // Marked for what it is (a list), not read as an empty name.
    assert.match(res.body, /<input name="name"[^>]*aria-invalid="true"[^>]*>\s*<small class="field-error"[^>]*>[^<]*only once/, 'the name field is marked');
    assert.equal((await server.services.accounts.findById(user.id))!.name, 'Kept Name');
  });
});
