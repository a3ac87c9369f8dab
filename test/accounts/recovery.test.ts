import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { forms, type Page } from '../helpers/browser.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { linkIn, startSmtp, type TestSmtp } from '../email/smtp.ts';
import { BEHIND_PROXY, fastEmail, PersonBrowser } from '../email/support.ts';

const NEW_PASSWORD = 'another long passphrase, never used';

/** Waits until the clock's second changes. */
async function nextSecond() {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe(`password reset (${STORAGE})`, () => {
  let smtp: TestSmtp;
  let rp: oidc.Configuration;

  before(async () => {
    smtp = await startSmtp();
  });
  const { server } = useServer({ env: () => ({ SMTP_URL: smtp.url, ...BEHIND_PROXY }), overrides: fastEmail() });
  before(async () => {
    rp = await rpConfig(server, await createClient(server));
  });
  after(async () => {
    await smtp?.stop();
  });

  async function askForReset(email: string): Promise<Page> {
    const browser = new PersonBrowser();
    const form = await browser.request(`${server.url}/forgot-password`);
    assert.equal(form.status, 200);
    return browser.submit(form, { email }, { field: 'email' });
  }

  async function resetLink(user: TestUser, nth: number): Promise<string> {
    const mail = await smtp.messageTo(user.email, { count: nth });
    assert.equal(mail.subject, 'Reset your password');
    return linkIn(mail, `${server.url}/reset-password?token=`);
  }

  async function signInFails(user: { email: string; password: string }) {
    await assert.rejects(authorize(server, rp, user), /expected a redirect to the client, got 400/);
  }

  test('the reset flow end to end: used and expired links refused, the old password and earlier sessions and tokens no longer work', async () => {
    const user = await createUser(server, { email: `reset-${randomBytes(4).toString('hex')}@example.com` });

    // Signed in before the reset: an OP session in `earlier.browser`, and tokens.
    const earlier = await authorize(server, rp, user, { scope: 'openid email offline_access' });
    const before = await oidc.authorizationCodeGrant(rp, earlier.callbackUrl, { pkceCodeVerifier: earlier.verifier, expectedState: earlier.state });
    assert.ok(before.refresh_token);

    const sent = await askForReset(user.email);
    assert.equal(sent.status, 200);
    assert.match(sent.body, /If an account with this address exists/);
    const mail = await smtp.messageTo(user.email);
    assert.match(mail.text, /expires in 1 hour/);
    assert.match(mail.text, /If this wasn't you/);
    assert.doesNotMatch(mail.text, new RegExp(user.password), 'no password in the mail');
    const link = await resetLink(user, 1);

    const browser = new PersonBrowser();
    const form = await browser.request(link);
    assert.equal(form.status, 200);
    assert.equal(form.headers.get('cache-control'), 'no-store');
    const tooShort = await browser.submit(form, { new_password: 'short' }, { field: 'new_password' });
    assert.equal(tooShort.status, 400);
    assert.match(tooShort.body, /Use at least 12 characters/);
    const personal = await browser.submit(form, { new_password: `${user.email} is mine` }, { field: 'new_password' });
    assert.equal(personal.status, 400);
    assert.match(personal.body, /Do not use your e-mail address/);
    const same = await browser.submit(form, { new_password: user.password }, { field: 'new_password' });
    assert.equal(same.status, 400);
    assert.match(same.body, /not used for your last 5 passwords/);
    const done = await browser.submit(form, { new_password: NEW_PASSWORD }, { field: 'new_password' });
    assert.equal(done.status, 200);
    assert.match(done.body, /Your password is changed/);

    // The link is spent: opening it or posting its form again is refused.
    const reopened = await new PersonBrowser().request(link);
    assert.equal(reopened.status, 400);
    assert.match(reopened.body, /already used/);
    const reposted = await browser.submit(form, { new_password: 'yet another long passphrase' }, { field: 'new_password' });
    assert.equal(reposted.status, 400);
    assert.match(reposted.body, /already used/);

    // The old password no longer works; the new one does. (A sign-in within the very second
    // of the reset counts as before it and is asked for again: see revocation.repo.ts.)
    await signInFails(user);
    await nextSecond();
    await authorize(server, rp, { email: user.email, password: NEW_PASSWORD });

    // What was issued before the reset is void: refresh token, access token, OP session.
    await assert.rejects(oidc.refreshTokenGrant(rp, before.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    await assert.rejects(
      oidc.fetchUserInfo(rp, before.access_token, user.id),
      (err: oidc.WWWAuthenticateChallengeError) => err.cause.some((c) => c.parameters.error === 'invalid_token'),
    );
    const authorizationUrl = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: 'http://127.0.0.1:9/callback',
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const again = await earlier.browser.follow(authorizationUrl.toString(), {}, (u) => u.startsWith('http://127.0.0.1:9/callback'));
    assert.ok(
      forms(again.body, again.url).some((f) => 'password' in f.fields),
      'the browser that signed in before the reset is asked to sign in again',
    );

    // Expired: a new link, whose time has passed.
    await askForReset(user.email);
    const second = await resetLink(user, 2);
    await server.services.knex('email_tokens').where({ account_id: user.id, purpose: 'reset' }).whereNull('used_at').update({ expires_at: server.services.knex.raw(`now() - interval '1 second'`) });
    const expired = await new PersonBrowser().request(second);
    assert.equal(expired.status, 400);
    assert.match(expired.body, /expired/);
    assert.match(expired.body, /href="\/forgot-password"/, 'an expired link offers a new one');
  });

  test('an earlier reset link dies when another is used', async () => {
    const user = await createUser(server, { email: `twice-${randomBytes(4).toString('hex')}@example.com` });
    await askForReset(user.email);
    const first = await resetLink(user, 1);
    await server.services.knex('email_outbox').where({ account_id: user.id }).update({ created_at: server.services.knex.raw(`now() - interval '1 hour'`) });
    await askForReset(user.email);
    const second = await resetLink(user, 2);
    const browser = new PersonBrowser();
    await browser.submit(await browser.request(second), { new_password: NEW_PASSWORD }, { field: 'new_password' });
    const stale = await browser.request(first);
    assert.equal(stale.status, 400);
  });

  test('asking for an unknown address answers exactly as for a known one, and mails nobody', async () => {
    const user = await createUser(server, { email: `known-${randomBytes(4).toString('hex')}@example.com` });
    const unknown = `nobody-${randomBytes(4).toString('hex')}@example.com`;
    const known = await askForReset(user.email);
    const nobody = await askForReset(unknown);
    assert.equal(nobody.status, known.status);
    assert.equal(nobody.url, known.url);
    // The page names the address typed (issue 12), and nothing else differs.
    assert.equal(nobody.body.replaceAll(unknown, 'ADDRESS'), known.body.replaceAll(user.email, 'ADDRESS'));
    await smtp.messageTo(user.email);
    assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(unknown)).length, 0);
  });
});
