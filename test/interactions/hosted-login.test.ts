import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import { createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { freePort, useServer } from '../helpers/server.ts';

// A person in a real browser: the login page, a wrong password, the consent page, the app.
describe('hosted login and consent in Chromium', { skip: NO_CHROMIUM }, () => {
  const { server } = useServer();
  let app: Server;
  let appUrl: string;
  let browser: Browser;
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    // The relying party's callback: shows what it received.
    app = createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<h1>Callback</h1><p id="query">${new URL(req.url!, appUrl).search.replace(/</g, '')}</p>`);
    });
    await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
    user = await createUser(server, { name: 'Grace Hopper' });
    client = await createClient(server, { name: 'Example Notes', redirectUris: [`${appUrl}/callback`] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    app?.close();
  });

  test('sign in, see the error for a wrong password, consent, land on the app with a code', async () => {
    const config = await rpConfig(server, client);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${appUrl}/callback`,
      scope: 'openid email profile',
      state: 'abc',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const page = await browser.newPage();
    await page.goto(url.toString());
    assert.equal(await page.locator('h1').textContent(), 'Sign in');
    assert.match((await page.locator('main').textContent())!, /Example Notes/);
    const cssApplied = await page.$eval('button[type=submit]', (el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
    assert.notEqual(cssApplied, 'rgba(0, 0, 0, 0)', 'the stylesheet served by Gatehouse is applied');

    await page.fill('input[name=login]', user.email);
    await page.fill('input[name=password]', 'not my password at all');
    await page.click('button[type=submit]');
    assert.match((await page.locator('[role=alert]').textContent())!, /Wrong e-mail address, username or password/);
    assert.equal(await page.inputValue('input[name=login]'), user.email);
    await page.screenshot({ path: join(tmpdir(), 'gatehouse-login-error.png') });

    await page.fill('input[name=password]', user.password);
    await page.click('button[type=submit]');
    assert.equal(await page.locator('h1').textContent(), 'Allow access?');
    const scopes = await page.locator('.scopes li').allTextContents();
    assert.deepEqual(scopes, ['Know who you are (your account identifier)', 'See your e-mail address', 'See your name and username']);
    await page.screenshot({ path: join(tmpdir(), 'gatehouse-consent.png') });

    await page.click('button.primary');
    await page.waitForURL(`${appUrl}/callback**`);
    const query = new URLSearchParams(new URL(page.url()).search);
    assert.ok(query.get('code'));
    assert.equal(query.get('state'), 'abc');
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: 'abc' });
    assert.equal(tokens.claims()?.name, 'Grace Hopper');
  });
});
