import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { URI, type TOTP } from 'otpauth';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import { createUser, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core's WCAG 2.x A/AA violations on the page, by rule id. */
async function violations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const result = (await page.evaluate('axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] })')) as { violations: { id: string; nodes: unknown[] }[] };
  return result.violations.map((v) => `${v.id} (${v.nodes.length})`);
}

// Issue 13's pages as a person sees them in Chromium: the enrolment (QR code, key, link), the
// recovery codes, the code step of a sign-in; no WCAG A/AA violation axe-core can find. The
// context bypasses the CSP to inject axe; passkeys.test.ts checks these pages under the CSP.
describe(`second-factor pages in Chromium (${STORAGE})`, { skip: NO_CHROMIUM }, () => {
  const { server } = useServer();
  let browser: Browser;
  let user: TestUser;

  before(async () => {
    user = await createUser(server);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  test('enrol from /account, see the recovery codes, sign in again with a code', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const signIn = async () => {
      await page.goto(`${server.url}/login`);
      await page.fill('input[name=login]', user.email);
      await page.fill('input[name=password]', user.password);
      await page.click('button[type=submit]');
    };
    await signIn();
    await page.waitForURL(`${server.url}/account`);
    assert.deepEqual(await violations(page), [], '/account');

    await page.click('a[href="/account/totp"]');
    await page.locator('.qr svg').waitFor();
    assert.deepEqual(await violations(page), [], 'the enrolment page');
    const uri = (await page.locator('[data-otpauth-uri]').textContent())!.trim();
    const totp = URI.parse(uri) as TOTP;
    await page.fill('input[name=code]', totp.generate({ timestamp: Date.now() - 30_000 }));
    await page.click('button[type=submit]');
    await page.locator('[data-recovery-code]').first().waitFor();
    assert.equal(await page.locator('[data-recovery-code]').count(), 10);
    assert.deepEqual(await violations(page), [], 'the recovery codes page');

    await context.clearCookies();
    await signIn();
    await page.waitForURL(/\/interaction\/[^/]+\/mfa$/);
    assert.deepEqual(await violations(page), [], 'the code step');
    await page.fill('input[name=code]', totp.generate());
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/account`);
    await context.close();
  });
});
