import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { jwtVerify, createRemoteJWKSet } from 'jose';
import * as oidc from 'openid-client';
import { Browser, forms, type Page } from '../helpers/browser.ts';
import { createClient, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { linkIn, startSmtp, type TestSmtp } from './smtp.ts';
import { fastEmail, outboxTo } from './support.ts';

const PASSWORD = 'a long and unguessable passphrase';
const newEmail = () => `reg-${randomBytes(4).toString('hex')}@example.com`;

describe(`registration with e-mail confirmation (${STORAGE})`, () => {
  let smtp: TestSmtp;
  let rp: oidc.Configuration;
  let clientId: string;

  before(async () => {
    smtp = await startSmtp();
  });
  const { server } = useServer({ env: () => ({ SMTP_URL: smtp.url }), overrides: fastEmail() });
  before(async () => {
    const client = await createClient(server);
    clientId = client.client_id;
    rp = await rpConfig(server, client);
  });
  after(async () => {
    await smtp?.stop();
  });

  /** Opens an authorization request in `browser` and returns its login page. */
  async function startSignIn(browser: Browser) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid email profile',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const loginPage = await browser.follow(url.toString());
    assert.equal(loginPage.status, 200);
    return { verifier, state, loginPage };
  }

  /** The login page's "create an account" link (handlebars escapes `=` as `&#x3D;`). */
  const registerLink = (page: Page) => /href="(\/register\?interaction[^"]+)"/.exec(page.body)?.[1]?.replace(/&#x3D;/g, '=');

  const atCallback = (u: string) => u.startsWith('http://127.0.0.1:9/callback');

  test('register → mail received → link confirms → the OIDC login completes', async () => {
    const email = newEmail();
    const browser = new Browser();
    const { verifier, state, loginPage } = await startSignIn(browser);

    // The login page of the flow links to registration, carrying the interaction.
    const registerHref = registerLink(loginPage);
    assert.ok(registerHref, 'the login page links to /register?interaction=...');
    const registerPage = await browser.request(new URL(registerHref, server.url).toString());
    assert.equal(registerPage.status, 200);
    assert.match(registerPage.body, /Test App/, 'the registration page names the application');
    const sent = await browser.submit(registerPage, { name: 'Grace Hopper', email, password: PASSWORD }, { field: 'email' });
    assert.equal(sent.status, 200);
    assert.match(sent.body, /Check your e-mail/);

    // Not confirmed yet: the sign-in is refused, and a resend is offered.
    const refused = await browser.submit(loginPage, { login: email, password: PASSWORD }, { field: 'login' });
    assert.equal(refused.status, 403);
    assert.ok(
      forms(refused.body, refused.url).some((f) => f.action.endsWith('/verify-email/resend') && f.fields.email === email),
      'the refused login offers to send the confirmation again',
    );

    const mail = await smtp.messageTo(email);
    assert.equal(mail.subject, 'Confirm your e-mail address');
    assert.match(mail.text, /Grace Hopper/);
    assert.match(mail.text, /expires in 24 hours/);
    assert.match(mail.text, /If this wasn't you/);
    assert.match(mail.html, /If this wasn&#x27;t you|If this wasn't you/);
    const link = linkIn(mail, `${server.url}/verify-email?token=`);
    assert.ok(mail.html.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&').includes(`href="${link}"`), 'the HTML part carries the same link');

    // The link confirms and sends this browser back into its sign-in.
    const resumed = await browser.follow(link, {}, atCallback);
    assert.equal(resumed.status, 200);
    assert.match(resumed.url, /\/interaction\//);
    assert.match(resumed.body, /Your e-mail address is confirmed/);

    let page: Page = await browser.submit(resumed, { login: email, password: PASSWORD }, { field: 'login', stopAt: atCallback });
    if (!atCallback(page.url)) page = await browser.submit(page, {}, { stopAt: atCallback });
    assert.ok(atCallback(page.url), `expected the client's callback, got ${page.status} ${page.url}`);

    const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.url), { pkceCodeVerifier: verifier, expectedState: state });
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${server.url}/jwks`)), { issuer: server.url, audience: clientId });
    assert.equal(payload.email, email);
    assert.equal(payload.email_verified, true);
    assert.equal(payload.name, 'Grace Hopper');

    // The link is spent; opened again it says the address is confirmed: sign in (issue 12).
    const again = await new Browser().request(link);
    assert.equal(again.status, 200);
    assert.match(again.body, /already used/);
    assert.match(again.body, /already confirmed/);

    const [message] = await outboxTo(server, email);
    assert.equal(message!.status, 'sent');
    assert.equal(message!.attempts, 1);
    assert.equal(message!.data.token, undefined, 'the sealed token is removed from the outbox once sent');
  });

  test('the link opened in another browser confirms and offers a plain sign-in', async () => {
    const email = newEmail();
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser);
    const registerHref = registerLink(loginPage)!;
    await browser.submit(await browser.request(new URL(registerHref, server.url).toString()), { name: 'Ada', email, password: PASSWORD }, { field: 'email' });
    const link = linkIn(await smtp.messageTo(email), `${server.url}/verify-email?token=`);

    const elsewhere = await new Browser().follow(link);
    assert.equal(elsewhere.status, 200);
    assert.match(elsewhere.body, /Your e-mail address is confirmed/);
    assert.match(elsewhere.body, /href="\/login"/);
  });

  test('registration outside an OIDC flow; a bad or tampered link is refused with a resend offer', async () => {
    const email = newEmail();
    const browser = new Browser();
    const form = await browser.request(`${server.url}/register`);
    const sent = await browser.submit(form, { name: 'Alan', email, password: PASSWORD, username: `alan${randomBytes(2).toString('hex')}` }, { field: 'email' });
    assert.match(sent.body, /Check your e-mail/);
    const link = linkIn(await smtp.messageTo(email), `${server.url}/verify-email?token=`);

    const tampered = await browser.request(`${link.slice(0, -2)}xx`);
    assert.equal(tampered.status, 400);
    assert.ok(forms(tampered.body, tampered.url).some((f) => f.action.endsWith('/verify-email/resend') && 'email' in f.fields));

    const done = await browser.follow(link);
    assert.equal(done.status, 200);
    assert.match(done.body, /Your e-mail address is confirmed/);
  });

  test('form errors are shown on the form, with what was typed except the password', async () => {
    const browser = new Browser();
    const form = await browser.request(`${server.url}/register`);
    const page = await browser.submit(form, { name: 'Bad\r\nBcc: x@example.com', email: 'not-an-address', password: 'short' }, { field: 'email' });
    assert.equal(page.status, 400);
    assert.match(page.body, /Enter a valid e-mail address/);
    assert.match(page.body, /Use at least 12 characters/);
    assert.match(page.body, /Enter a name of at most 200 characters on one line/);
    assert.match(page.body, /value="not-an-address"/);
    assert.doesNotMatch(page.body, /value="short"/);
  });
});
