import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDemo } from '../../examples/first-party/serve.ts';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { freePort, STORAGE, useServer } from '../helpers/server.ts';

// A person in Chromium using the demo first-party app (examples/first-party) on its own origin:
// /session/start, Gatehouse's login page, back with cookies the page's scripts cannot read.
describe(`the demo first-party app in Chromium (${STORAGE})`, { skip: NO_CHROMIUM }, () => {
  const { server } = useServer();
  let demo: { url: string; server: Server };
  let browser: Browser;
  let user: TestUser;

  before(async () => {
    user = await createUser(server, { name: 'Katherine Johnson', roles: ['editor'] });
    const port = await freePort();
    const client = await createClient(server, { name: 'Notes', firstParty: true, public: true, redirectUris: [`http://127.0.0.1:${port}/`] });
    demo = await startDemo({ port, gatehouseUrl: server.url, clientId: client.client_id });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    demo?.server.close();
  });

  test('sign in through Gatehouse, see the user, refresh, sign out; tokens stay out of reach of scripts', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));

    await page.goto(`${demo.url}/`);
    await page.locator('#signed-out').waitFor();
    await page.click('#sign-in');

    // Gatehouse's hosted login, then straight back (first-party: no consent page).
    await page.waitForURL(`${server.url}/interaction/**`);
    assert.equal(await page.locator('h1').textContent(), 'Sign in');
    await page.fill('input[name=login]', user.email);
    await page.fill('input[name=password]', user.password);
    await Promise.all([page.waitForURL(`${demo.url}/`), page.click('button[type=submit]')]);

    await page.locator('#signed-in').waitFor();
    assert.equal(await page.locator('#user-email').textContent(), user.email);
    assert.equal(await page.locator('#user-name').textContent(), 'Katherine Johnson');
    assert.equal(await page.locator('#user-roles').textContent(), 'editor');
    assert.equal(await page.evaluate('document.cookie'), '', 'HttpOnly: the page sees no cookie at all');
    assert.equal(await page.locator('#document-cookie').textContent(), '""');
    await page.screenshot({ path: join(tmpdir(), 'gatehouse-first-party-demo.png'), fullPage: true });

    const cookies = await context.cookies(server.url);
    const at = cookies.find((c) => c.name === 'gatehouse_at');
    const rt = (await context.cookies(`${server.url}/session/refresh`)).find((c) => c.name === 'gatehouse_rt');
    assert.ok(at?.httpOnly && rt?.httpOnly);
    assert.equal(at.sameSite, 'Lax');
    assert.equal(rt.path, '/session');
    assert.equal(cookies.find((c) => c.name === 'gatehouse_rt'), undefined, 'the refresh cookie is not sent outside /session');

    // Refresh from the app's origin: CORS with credentials, Origin accepted, cookies rotated.
    await page.click('#refresh');
    await page.locator('#refreshes', { hasText: '1 time' }).waitFor();
    const rotated = (await context.cookies(`${server.url}/session/refresh`)).find((c) => c.name === 'gatehouse_rt');
    assert.notEqual(rotated?.value, rt.value);

    // Reloading the page finds the session again.
    await page.reload();
    await page.locator('#signed-in').waitFor();

    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();
    const left = (await context.cookies(`${server.url}/session/refresh`)).map((c) => c.name);
    assert.ok(!left.includes('gatehouse_at') && !left.includes('gatehouse_rt'), `both cookies are gone: ${left.join(', ')}`);
    await page.reload();
    await page.locator('#signed-out').waitFor();
    assert.deepEqual(failures, [], 'no script errors (the page runs under a strict CSP)');
    await context.close();
  });
});
