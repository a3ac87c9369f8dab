import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import { createClient, PASSWORD, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, TEST_DATABASE_URL, TEST_REDIS_URL, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually } from '../email/support.ts';

// Issue 12: the whole journey of a new person, in a real browser, in each language, on a desktop
// and a phone screen, in the light and the dark theme: register, get the mail, confirm, sign in,
// consent, and arrive back at the app with a code the app can exchange.

// Nothing listens there (the test reads the code from the request): a port Chromium allows (9 is not).
const CALLBACK = 'http://127.0.0.1:8765/callback';
const LOCALES = ['en', 'vi'] as const;
const SCREENS = { desktop: { width: 1280, height: 800 }, phone: { width: 375, height: 740 } };
const SCHEMES = ['light', 'dark'] as const;
const subjects = Object.fromEntries(
  LOCALES.map((l) => [l, (JSON.parse(readFileSync(new URL(`../../views/locales/${l}.json`, import.meta.url), 'utf8')) as Record<string, string>)['email.verify.subject']!]),
);

interface Mail {
  to: string;
  subject: string;
  text: string;
}

// A slow browser matrix: CI runs it in the Postgres+Redis pass only (the pages are the same on the embedded default).
const SLOW_MATRIX_ELSEWHERE = !(TEST_DATABASE_URL && TEST_REDIS_URL) && 'a slow browser matrix: run with DATABASE_URL and REDIS_URL';

describe(`a new person's whole journey in Chromium: languages, screens, themes (${STORAGE})`, { skip: NO_CHROMIUM || SLOW_MATRIX_ELSEWHERE }, () => {
  const { server } = useServer({ env: { ...BEHIND_PROXY } });
  let browser: Browser;
  let rp: oidc.Configuration;

  before(async () => {
    browser = await launchChromium();
    rp = await rpConfig(server, await createClient(server, { name: 'Example Notes', redirectUris: [CALLBACK] }));
  });
  after(async () => {
    await browser?.close();
  });

  async function htmlLang(page: Page) {
    return page.locator('html').getAttribute('lang');
  }

  for (const lang of LOCALES) {
    for (const [screen, viewport] of Object.entries(SCREENS)) {
      for (const scheme of SCHEMES) {
        test(`${lang}, ${screen} (${viewport.width} px), ${scheme}: register, confirm by mail, sign in, consent, back at the app`, async () => {
          const context = await browser.newContext({ viewport, colorScheme: scheme, extraHTTPHeaders: { 'x-forwarded-for': `10.${randomBytes(3).join('.')}` } });
          await context.addCookies([{ name: 'lang', value: lang, url: server.url }]);
          const page = await context.newPage();
          const problems: string[] = [];
          page.on('pageerror', (err) => problems.push(`script error: ${err.message}`));
          try {
            const verifier = oidc.randomPKCECodeVerifier();
            const state = oidc.randomState();
            const url = oidc.buildAuthorizationUrl(rp, {
              redirect_uri: CALLBACK,
              scope: 'openid email profile',
              code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
              code_challenge_method: 'S256',
              state,
            });
            await page.goto(url.toString());
            assert.equal(await htmlLang(page), lang, 'the login page speaks the chosen language');

            // No account yet: "create an account" from the login page.
            await Promise.all([page.waitForURL(/\/register/), page.click('a[href^="/register"]')]);
            const email = `new-${lang}-${screen}-${scheme}-${randomBytes(3).toString('hex')}@example.com`;
            await page.fill('input[name=name]', 'Nguyễn Thị Ada');
            await page.fill('input[name=email]', email);
            await page.fill('input[name=password]', PASSWORD);
            await Promise.all([page.waitForURL(/\/register\/sent/), page.click('button[type=submit].primary')]);
            assert.equal(await htmlLang(page), lang);
            assert.ok((await page.textContent('main'))!.includes(email), '"check your e-mail" names the address');
            const noSideways = await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');
            assert.equal(noSideways, true, 'no sideways scrolling');

            // The mail, in the language the person used.
            const mail = await eventually(async () => {
              const box = (await (await fetch(`${server.url}/dev/mailbox.json`)).json()) as Mail[];
              return box.find((m) => m.to === email);
            });
            assert.equal(mail.subject.replace(/Gatehouse/g, '{product}'), subjects[lang]!.replace(/Gatehouse/g, '{product}'));
            const link = /(http\S+\/verify-email\?token=\S+)/.exec(mail.text)![1]!;

            // Confirming resumes the sign-in; then the password, the consent, the app.
            await page.goto(link);
            assert.equal(await htmlLang(page), lang);
            if (await page.locator('input[name=password]').count()) {
              await page.fill('input[name=login]', email);
              await page.fill('input[name=password]', PASSWORD);
              await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit].primary')]);
            }
            const consent = page.locator('form[action$="/confirm"] button[type=submit]');
            await consent.waitFor();
            assert.equal(await htmlLang(page), lang, 'the consent page speaks the chosen language');
            assert.ok((await page.textContent('main'))!.includes('Example Notes'), 'consent names the app');
            // The browser is sent to the app's callback (nothing listens there: the test is the app).
            const [arrival] = await Promise.all([page.waitForRequest((r) => r.url().startsWith(CALLBACK)), consent.click()]);

            const tokens = await oidc.authorizationCodeGrant(rp, new URL(arrival.url()), { pkceCodeVerifier: verifier, expectedState: state });
            assert.equal(tokens.claims()!.email, email, 'the app receives the new account');
            assert.deepEqual(problems, []);
          } finally {
            await context.close();
          }
        });
      }
    }
  }

  test('signing out then opening /account asks to sign in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      const email = `leaver-${randomBytes(3).toString('hex')}@example.com`;
      await server.services.accounts.create({ email, password: PASSWORD, name: 'Leaver', verified: true });
      await page.goto(`${server.url}/login`);
      await page.fill('input[name=login]', email);
      await page.fill('input[name=password]', PASSWORD);
      await Promise.all([page.waitForURL(`${server.url}/account`), page.click('button[type=submit].primary')]);
      assert.ok((await page.textContent('main'))!.includes(email));

      await page.goto(`${server.url}/logout`);
      await Promise.all([page.waitForURL((u) => u.pathname !== '/logout'), page.click('button[name=logout]')]);
      await page.goto(`${server.url}/account`);
      await page.locator('input[name=password]').waitFor();
      assert.ok(!(await page.textContent('main'))!.includes(email), 'the account is not shown any more');
    } finally {
      await context.close();
    }
  });
});
