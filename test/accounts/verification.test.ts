import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { defaults } from '../../config/defaults.ts';
import { createSelfService } from '../../src/accounts/self-service/self-service.ts';
import { resendVerification } from '../../src/accounts/verification/verification.service.ts';
import { forms, type Page } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { linkIn, startSmtp, type TestSmtp } from '../email/smtp.ts';
import { BEHIND_PROXY, eventually, fastEmail, outboxTo, PersonBrowser } from '../email/support.ts';

const PASSWORD = 'a long and unguessable passphrase';
const atCallback = (u: string) => u.startsWith('http://127.0.0.1:9/callback');

describe(`confirmation e-mail: resend, and registering a taken address (${STORAGE})`, () => {
  let smtp: TestSmtp;
  let rp: oidc.Configuration;

  before(async () => {
    smtp = await startSmtp();
  });
  // The production interval between two mails to one account, so the throttle is what it is.
  const { server } = useServer({
    env: () => ({ SMTP_URL: smtp.url, ...BEHIND_PROXY }),
    overrides: fastEmail({ perAddressIntervalSeconds: defaults.email.perAddressIntervalSeconds }),
  });
  before(async () => {
    rp = await rpConfig(server, await createClient(server));
  });
  after(async () => {
    await smtp?.stop();
  });

  test('an unconfirmed account cannot finish login; "resend confirmation" mails a link that resumes the sign-in', async () => {
    const user = await createUser(server, { email: `unconfirmed-${randomBytes(4).toString('hex')}@example.com`, password: PASSWORD, verified: false });
    const browser = new PersonBrowser();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid email',
      state: 'st',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const loginPage = await browser.follow(url.toString());
    const refused = await browser.submit(loginPage, { login: user.email, password: PASSWORD }, { field: 'login' });
    assert.equal(refused.status, 403);
    assert.match(refused.body, /confirm your e-mail address first/i);

    const resent = await browser.submit(refused, {}, { field: 'email' });
    assert.equal(resent.status, 200, resent.body.slice(0, 300));
    assert.match(resent.body, /we sent it a new link/);

    const link = linkIn(await smtp.messageTo(user.email), `${server.url}/verify-email?token=`);
    const resumed = await browser.follow(link, {}, atCallback);
    assert.match(resumed.url, /\/interaction\//, 'back in the sign-in that was refused');
    let page: Page = await browser.submit(resumed, { login: user.email, password: PASSWORD }, { field: 'login', stopAt: atCallback });
    if (!atCallback(page.url)) page = await browser.submit(page, {}, { stopAt: atCallback });
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.url), { pkceCodeVerifier: verifier, expectedState: 'st' });
    assert.equal(tokens.claims()?.email_verified, true);
  });

  test('resending is throttled per account: one new link per interval, whatever is asked', async () => {
    const user = await createUser(server, { email: `throttled-${randomBytes(4).toString('hex')}@example.com`, verified: false });
    const { services: gatehouse, email } = server;
    const selfService = createSelfService({
      knex: gatehouse.knex,
      accounts: gatehouse.accounts,
      hasher: gatehouse.hasher,
      outbox: email.outbox,
      enqueueEmail: (id) => email.jobs.enqueueEmail(id),
      config: server.config,
      log: server.app.log,
    });
    await resendVerification(selfService, { login: user.email });
    await resendVerification(selfService, { login: user.email });
    await resendVerification(selfService, { login: user.email.toUpperCase() });
    assert.equal((await outboxTo(server, user.email)).filter((m) => m.template === 'verify-email').length, 1);

    // A confirmed account gets none at all.
    const confirmed = await createUser(server, { email: `confirmed-${randomBytes(4).toString('hex')}@example.com` });
    await resendVerification(selfService, { login: confirmed.email });
    assert.equal((await outboxTo(server, confirmed.email)).length, 0);
  });

  test('a resend within the interval: the page says none may follow and when to ask again, the same for an unknown address', async () => {
    const user = await createUser(server, { email: `interval-${randomBytes(4).toString('hex')}@example.com`, verified: false });
    const unknown = `nobody-${randomBytes(4).toString('hex')}@example.com`;
    const browser = new PersonBrowser();
    async function resend(address: string) {
      const form = await browser.follow(`${server.url}/verify-email/resend`);
      const page = await browser.submit(form, { email: address }, { field: 'email' });
      assert.equal(page.status, 200);
      // The page names the address typed (issue 12), and nothing else differs.
      return page.body.replace(/name="_csrf" value="[^"]*"/g, '').replaceAll(address, 'ADDRESS');
    }
    const first = await resend(user.email);
    await eventually(async () => (await outboxTo(server, user.email)).length === 1);
    const again = await resend(user.email);
    const stranger = await resend(unknown);
    // Honest: it may be that no new link is sent, and it says when asking again will work.
    assert.match(again, /unless we sent one less than 1 minute ago/);
    assert.match(again, /ask again in 1 minute/);
    assert.equal(again, first, 'the page reads the same whether a link was sent or not');
    assert.equal(stranger, again, 'the page reads the same for an address with no account');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await outboxTo(server, user.email)).filter((m) => m.template === 'verify-email').length, 1, 'one link per interval');
  });

  test('registering an address that has an account answers as for a new one; the owner gets a notice, not a second account', async () => {
    const owner = await createUser(server, { email: `owner-${randomBytes(4).toString('hex')}@example.com`, password: PASSWORD, name: 'Owner' });
    const fresh = `fresh-${randomBytes(4).toString('hex')}@example.com`;

    async function registerAs(email: string) {
      const browser = new PersonBrowser();
      const form = await browser.request(`${server.url}/register`);
      return browser.submit(form, { name: 'Someone Else', email, password: 'a different long passphrase' }, { field: 'email' });
    }
    const taken = await registerAs(owner.email.toUpperCase());
    const created = await registerAs(fresh);
    assert.equal(taken.status, created.status);
    assert.equal(taken.url, created.url);
    const typed = (page: typeof taken, email: string) => page.body.replace(/name="_csrf" value="[^"]*"/g, '').replaceAll(email, 'ADDRESS');
    assert.equal(typed(taken, owner.email.toUpperCase()), typed(created, fresh));

    const notice = await smtp.messageTo(owner.email);
    assert.equal(notice.subject, 'Someone tried to create an account with your address');
    assert.match(notice.text, /Hello Owner/);
    assert.match(notice.text, /If this wasn't you/);
    assert.equal(linkIn(notice, server.url), `${server.url}/forgot-password`);
    await smtp.messageTo(fresh);

    const accounts = await server.services.knex('accounts').where({ email_normalized: owner.email.toLowerCase() });
    assert.equal(accounts.length, 1, 'no second account');
    // The owner's account is untouched: the old password still signs in.
    await authorize(server, rp, { email: owner.email, password: PASSWORD });
  });

  test('a taken username is said (usernames are public), with what was typed kept', async () => {
    const username = `taken${randomBytes(3).toString('hex')}`;
    await createUser(server, { username });
    const browser = new PersonBrowser();
    const page = await browser.submit(await browser.request(`${server.url}/register`), { name: 'X', email: `u-${randomBytes(4).toString('hex')}@example.com`, password: PASSWORD, username }, { field: 'email' });
    assert.equal(page.status, 400);
    assert.match(page.body, /This username is taken/);
    assert.ok(forms(page.body, page.url).some((f) => f.fields.username === username));
  });
});
