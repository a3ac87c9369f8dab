import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { Browser as HttpBrowser } from '../helpers/browser.ts';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import { createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { createServer, type Server } from 'node:http';
import { freePort, STORAGE, useServer } from '../helpers/server.ts';
import { MFA_ACR } from './support.ts';


// Issue 13: passkeys in a real browser. Chromium's virtual authenticator (CDP WebAuthn domain)
// stands in for a platform authenticator with user verification. WebAuthn refuses IP addresses
// as relying party IDs, so this server's issuer is http://localhost.
describe(`passkeys in Chromium (${STORAGE})`, { skip: NO_CHROMIUM }, () => {
  const { server } = useServer({ env: ({ port }) => ({ ISSUER: `http://localhost:${port}` }) });
  let browser: Browser;
  let user: TestUser;
  let config: oidc.Configuration;
  // The client's callback: a page that answers "ok" (Chromium refuses port 9, the usual stand-in).
  let rp: Server;
  let REDIRECT: string;

  before(async () => {
    const port = await freePort();
    REDIRECT = `http://127.0.0.1:${port}/callback`;
    rp = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => rp.listen(port, '127.0.0.1', resolve));
    user = await createUser(server, { name: 'Ada Lovelace' });
    config = await rpConfig(server, await createClient(server, { name: 'Shop', redirectUris: [REDIRECT] }));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    rp?.close();
  });

  test('add a passkey on /account, then sign in to a client with it alone: amr says hwk or swk and mfa; a used challenge is refused; a removed passkey stops working', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    // Signed in with the password, the person adds a passkey from /account.
    await page.goto(`${server.url}/login`);
    assert.equal(await page.getAttribute('input[name=login]', 'autocomplete'), 'username webauthn');
    await page.fill('input[name=login]', user.email);
    await page.fill('input[name=password]', user.password);
    await Promise.all([page.waitForURL(`${server.url}/account`), page.click('button[type=submit]')]);
    await page.fill('input[name=passkey_name]', 'Test laptop');
    await Promise.all([page.waitForURL(`${server.url}/account?done=passkey_added`), page.click('[data-passkey-add] button')]);
    assert.equal(await page.locator('[data-passkey-name]').textContent(), 'Test laptop');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.ok(credentials[0]!.isResidentCredential, 'a discoverable credential');

    // Signed out, a client asks for a sign-in: the passkey button, and nothing typed.
    await context.clearCookies();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid email',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      acr_values: MFA_ACR,
    });
    let assertion: string | undefined;
    // The assertion that signed in (the autofill request and the button may each post one; the
    // one that did not sign in was never used, and replaying it would be its first use).
    page.on('response', (response) => {
      if (/\/interaction\/[^/]+\/passkey$/.test(new URL(response.url()).pathname) && response.status() === 200) assertion = response.request().postData() ?? undefined;
    });
    await page.goto(url.toString());
    await page.locator('[data-passkey-login]').waitFor({ state: 'visible' });
    // The button, clicked by script (the autofill dropdown Chromium may open on the focused
    // login field would stand in the way of Playwright's pointer). The virtual authenticator
    // may answer the autofill request (conditional mediation) first: either signs in, once.
    await page.locator('[data-passkey-login]').evaluate((button: { click(): void }) => button.click()).catch(() => undefined);
    await page.waitForURL(/\/interaction\/[^/]+$/); // consent, for this third-party client
    await Promise.all([page.waitForURL(`${REDIRECT}**`), page.click('button[type=submit].primary')]);
    const callback = page.url();
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims()!;
    assert.equal(claims.sub, user.id);
    assert.equal(claims.acr, MFA_ACR);
    const amr = claims.amr as string[];
    assert.ok(amr.includes('mfa') && (amr.includes('hwk') || amr.includes('swk')), JSON.stringify(amr));
    assert.ok(!amr.includes('pwd'));

    // The assertion sent once cannot sign in again: its challenge was taken.
    assert.ok(assertion);
    const other = new HttpBrowser();
    const login = await other.follow(oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString());
    const replay = await other.request(`${login.url}/passkey`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' } as Record<string, string> });
    assert.equal(replay.status, 400, 'no body: refused');
    const replayed = await fetch(`${login.url}/passkey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', cookie: [...(other.jar.get(new URL(login.url).host)?.values() ?? [])].map((c) => `${c.name}=${c.value}`).join('; ') },
      body: assertion,
    });
    assert.equal(replayed.status, 400);
    assert.equal(((await replayed.json()) as { error: string }).error, 'PASSKEY_FAILED');

    // /account (this browser is signed in, by the passkey) lists it with its last use; removing it leaves none.
    await page.goto(`${server.url}/login`);
    await page.waitForURL(`${server.url}/account`);
    assert.match((await page.locator('[data-passkey] small').textContent()) ?? '', /UTC/);
    await Promise.all([page.waitForURL(`${server.url}/account?done=passkey_removed`), page.click('[data-passkey] button[type=submit]')]);
    assert.equal(await page.locator('[data-passkey]').count(), 0);

    // Removed, it stops working: the authenticator still offers it, Gatehouse refuses it.
    await context.clearCookies();
    await page.goto(url.toString().replace(/state=[^&]+/, `state=${oidc.randomState()}`));
    await page.locator('[data-passkey-login]').waitFor({ state: 'visible' });
    const [refused] = await Promise.all([
      page.waitForResponse((res) => /\/interaction\/[^/]+\/passkey$/.test(new URL(res.url()).pathname) && res.request().method() === 'POST'),
      page.locator('[data-passkey-login]').evaluate((button: { click(): void }) => button.click()).catch(() => undefined),
    ]);
    assert.equal(refused.status(), 400, 'a removed passkey does not sign in');
    assert.equal(((await refused.json()) as { error: string }).error, 'PASSKEY_FAILED');
    assert.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+$/, 'still on the login page');
    assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/.test(p)), [], 'nothing refused by the CSP');
    await context.close();
  });
});
