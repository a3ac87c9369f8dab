import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Browser, forms, type Page } from '../helpers/browser.ts';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { authorize, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';

/** Opens `path` of the console signed out: Gatehouse's own login, then the console. */
async function signInTo(server: TestServer, user: TestUser, path = '/admin') {
  const browser = new Browser();
  const login = await browser.follow(`${server.url}${path}`);
  assert.match(login.body, /name="password"/);
  let landed = await browser.submit(login, { login: user.email, password: user.password }, { field: 'login' });
  assert.equal(new URL(landed.url).pathname, '/admin');
  if (path !== '/admin') landed = await browser.follow(`${server.url}${path}`);
  return { browser, landed };
}

/** Posts the page's form whose action ends with `action`, as a browser would (its hidden fields too). */
async function post(browser: Browser, page: Page, action: string, values: Record<string, string> = {}) {
  const form = forms(page.body, page.url).find((f) => f.action.endsWith(action));
  assert.ok(form, `a form posting to ${action} on ${page.url}`);
  return browser.follow(form.action, { method: 'POST', form: { ...form.fields, ...values } });
}

describe(`admin console (${STORAGE})`, () => {
  // Admins sign in here with a password alone; their second factor is test/mfa's.
  const { server } = useServer({ overrides: { mfa: { requireForRoles: [], requireForEveryone: false } } });

  test('signed out: the login, back to the console; a non-admin: a 403 page that shows nothing', async () => {
    const res = await fetch(`${server.url}/admin/users`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location') ?? '', /^\/login\?return_to=/);

    const someone = await createUser(server, { name: 'Not An Admin' });
    const { browser, landed } = await signInTo(server, someone);
    assert.equal(landed.status, 403, landed.body.slice(0, 300));
    assert.match(landed.body, /Not allowed/);
    for (const path of ['/admin', '/admin/users', '/admin/clients', '/admin/outbox', '/admin/events', `/admin/users/${someone.id}`]) {
      const page = await browser.follow(`${server.url}${path}`);
      assert.equal(page.status, 403, path);
      assert.ok(!page.body.includes('data-user-id') && !page.body.includes('<table') && !page.body.includes('Not An Admin'), `no data on ${path}`);
    }
    const forged = await browser.request(`${server.url}/admin/users/${someone.id}/roles`, { method: 'POST', form: { roles: 'admin' } });
    assert.equal(forged.status, 403);
    assert.deepEqual((await server.services.accounts.findById(someone.id))!.roles, [], 'no way in by posting');
  });

  test('an admin finds a user, changes roles, verifies, signs them out, disables them: each change CSRF-checked and audited as console', async () => {
    const admin = await createUser(server, { roles: ['admin'], name: 'Ada Admin' });
    const target = await createUser(server, { name: 'Tess Target', verified: false });
    const { browser, landed } = await signInTo(server, admin, '/admin/users');
    assert.equal(landed.status, 200, landed.body.slice(0, 500));
    assert.match(landed.body, new RegExp(`data-user-id="${target.id}"`));

    const found = await browser.follow(`${server.url}/admin/users?q=tess`);
    assert.match(found.body, new RegExp(target.email));
    assert.ok(!found.body.includes(admin.email.replace(/@.*/, '') + '@') || found.body.includes('Signed in as'), 'search narrows the list');
    let page = await browser.follow(`${server.url}/admin/users/${target.id}`);
    assert.equal(page.status, 200);
    assert.ok(!/argon2|password_hash/i.test(page.body), 'never a password hash');

    // Without the CSRF token a change is refused.
    const noToken = await browser.request(`${server.url}/admin/users/${target.id}/disable`, { method: 'POST', form: {} });
    assert.equal(noToken.status, 403);
    assert.equal((await server.services.accounts.findById(target.id))!.disabled, false);

    page = await post(browser, page, '/roles', { roles: 'support, billing' });
    assert.match(page.body, /Roles saved/);
    assert.match(page.body, /data-roles>support, billing</);
    const bad = await post(browser, page, '/roles', { roles: 'Not OK!' });
    assert.equal(bad.status, 400);
    page = await post(browser, page, '/verify');
    assert.match(page.body, /data-verified>Yes</);
    page = await post(browser, page, '/sessions');
    assert.match(page.body, /signed out everywhere/);
    page = await post(browser, page, '/disable');
    assert.match(page.body, /data-state>Disabled</);
    page = await post(browser, page, '/enable');
    assert.match(page.body, /data-state>Active</);

    const trail = (await server.services.security.events.list({ accountId: target.id })).filter((e) => e.type.startsWith('admin.')).reverse();
    assert.deepEqual(trail.map((e) => e.type), ['admin.user_updated', 'admin.user_updated', 'admin.user_sessions_revoked', 'admin.user_updated', 'admin.user_updated']);
    assert.ok(trail.every((e) => e.details.by === 'console' && e.details.by_account === admin.id && e.details.by_email === admin.email && e.ip));
    assert.deepEqual(trail[0]!.details.changes, { roles: { before: [], after: ['support', 'billing'] } });

    const events = await browser.follow(`${server.url}/admin/events?user=${target.id}`);
    assert.equal((events.body.match(/data-event-type="admin\./g) ?? []).length, 5);
  });

  test('lists page by cursor; a client made in the console shows its secret once', async () => {
    const admin = await createUser(server, { roles: ['admin'] });
    for (let i = 0; i < 51; i++) await server.services.accounts.repo.insert({ email: `paged-${i}@example.com`, emailNormalized: `paged-${i}@example.com`, username: null, usernameNormalized: null, name: 'Paged', passwordHash: 'x', roles: [], emailVerifiedAt: null });
    const { browser } = await signInTo(server, admin);
    const first = await browser.follow(`${server.url}/admin/users?q=paged-`);
    assert.equal((first.body.match(/data-user-id=/g) ?? []).length, 50);
    const next = /href="([^"]+)" rel="next"/.exec(first.body)?.[1]?.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=');
    assert.ok(next, 'a next page link');
    const second = await browser.follow(new URL(next, server.url).toString());
    assert.equal((second.body.match(/data-user-id=/g) ?? []).length, 1);
    assert.ok(!/rel="next"/.test(second.body));

    const clients = await browser.follow(`${server.url}/admin/clients`);
    const invalid = await post(browser, clients, '/admin/clients', { client_name: 'Console RP', redirect_uris: 'http://evil.example/cb' });
    assert.equal(invalid.status, 400);
    const created = await post(browser, clients, '/admin/clients', { client_name: 'Console RP', redirect_uris: 'https://rp.example/cb' });
    assert.equal(created.status, 201, created.body.slice(0, 500));
    const id = /data-client-id>([^<]+)</.exec(created.body)?.[1];
    const secret = /data-client-secret>([^<]+)</.exec(created.body)?.[1];
    assert.ok(id && secret);
    assert.equal((await server.services.clients.find(id))?.client_secret, secret);
    const listed = await browser.follow(`${server.url}/admin/clients`);
    assert.match(listed.body, new RegExp(`data-client-id="${id}"`));
    assert.ok(!listed.body.includes(secret), 'never shown again');
    const [event] = await server.services.security.events.list({ type: 'admin.client_created' });
    assert.equal(event?.details.client_id, id);
    assert.equal(event?.details.by, 'console');

    // A client made in the console signs a user in: a code flow driven by openid-client.
    const app = await post(browser, clients, '/admin/clients', { client_name: 'Console app', redirect_uris: 'http://127.0.0.1:9/callback' });
    assert.equal(app.status, 201);
    const appId = /data-client-id>([^<]+)</.exec(app.body)![1]!;
    const appSecret = /data-client-secret>([^<]+)</.exec(app.body)![1]!;
    const rp = await rpConfig(server, { client_id: appId, client_secret: appSecret, redirect_uris: ['http://127.0.0.1:9/callback'] } as ClientMetadata);
    const user = await createUser(server);
    const flow = await authorize(server, rp, user);
    const tokens = await oidc.authorizationCodeGrant(rp, flow.callbackUrl, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    assert.equal(tokens.claims()?.sub, user.id);
  });

  test('the outbox: a dead message sent again from the console', async () => {
    const admin = await createUser(server, { roles: ['admin'] });
    const m = await server.email.outbox.repo.insert({ accountId: null, toAddress: 'dead@example.com', toName: 'Dead', template: 'verify-email', data: {} });
    await server.services.knex('email_outbox').where({ id: m.id }).update({ status: 'dead', attempts: 5 });
    const { browser } = await signInTo(server, admin);
    const outbox = await browser.follow(`${server.url}/admin/outbox?status=dead`);
    assert.match(outbox.body, new RegExp(`data-message-id="${m.id}"`));
    const after = await post(browser, outbox, `/admin/outbox/${m.id}/retry`);
    assert.equal(after.status, 200);
    assert.notEqual((await server.email.outbox.repo.findById(m.id))?.status, 'dead');
  });

  test('in Chromium: an admin signs in, disables a user, creates a client and sees its secret once; the event log shows both with the admin; a non-admin gets 403', { skip: NO_CHROMIUM }, async () => {
    const admin = await createUser(server, { roles: ['admin'] });
    const target = await createUser(server, { name: 'Chromium Target' });
    const chromium = await launchChromium();
    try {
      const page = await chromium.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(String(err)));
      // Every script, style and page loads (the browser's own favicon request aside); a CSP refusal is a console error.
      page.on('response', (res) => res.status() >= 400 && !res.url().endsWith('/favicon.ico') && problems.push(`${res.status()} ${res.url()}`));
      page.on('console', (msg) => msg.type() === 'error' && !msg.text().startsWith('Failed to load resource') && problems.push(msg.text()));
      await page.goto(`${server.url}/admin`);
      await page.fill('input[name=login]', admin.email);
      await page.fill('input[name=password]', admin.password);
      await Promise.all([page.waitForURL(`${server.url}/admin`), page.click('button[type=submit]')]);
      await page.click('a[href="/admin/users"]');
      await page.fill('input[name=q]', target.email);
      await Promise.all([page.waitForURL(/q=/), page.click('form[role=search] button')]);
      await page.click(`a[href="/admin/users/${target.id}"]`);
      await Promise.all([page.waitForURL(/done=disabled/), page.click('button[value=disable]')]);
      assert.equal(await page.locator('[data-state]').textContent(), 'Disabled');
      assert.equal((await server.services.accounts.findById(target.id))?.disabled, true);

      // A client made in the console: its secret is shown this once.
      await page.click('a[href="/admin/clients"]');
      await page.fill('input[name=client_name]', 'Made in Chromium');
      await page.fill('input[name=redirect_uris]', 'https://chromium-app.example/cb');
      await Promise.all([page.waitForLoadState('load'), page.click('form[action="/admin/clients"] button[type=submit]')]);
      const secret = (await page.locator('[data-client-secret]').textContent())!.trim();
      const clientId = (await page.locator('[data-client-id]').first().textContent())!.trim();
      assert.ok(secret.length >= 32, 'the secret is shown');
      const stored = await server.services.clients.find(clientId);
      assert.equal(stored?.client_secret, secret, 'the secret shown is the client\'s');
      await page.goto(`${server.url}/admin/clients`);
      assert.ok((await page.content()).includes(clientId), 'the client is listed');
      assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');

      // The event log shows both changes, each with the admin who made it.
      await page.click('a[href="/admin/events"]');
      for (const type of ['admin.client_created', 'admin.user_updated']) {
        const row = page.locator(`tr[data-event-type="${type}"]`).first();
        assert.ok((await row.textContent())!.includes(admin.email), `${type} names the admin`);
      }
      assert.deepEqual(problems, []);

      // Someone without the admin role who signs in gets the 403 page and nothing else.
      const outsider = await createUser(server, { name: 'Not An Admin' });
      const other = await chromium.newPage();
      await other.goto(`${server.url}/admin`);
      await other.fill('input[name=login]', outsider.email);
      await other.fill('input[name=password]', outsider.password);
      const [answer] = await Promise.all([other.waitForResponse((r) => new URL(r.url()).pathname === '/admin' && r.request().method() === 'GET'), other.click('button[type=submit]')]);
      assert.equal(answer.status(), 403);
      assert.ok(!(await other.content()).includes(target.email), 'no data on the 403 page');
    } finally {
      await chromium.close();
    }
  });
});
