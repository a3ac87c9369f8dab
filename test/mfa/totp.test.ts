import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type * as oidc from 'openid-client';
import { defaults } from '../../config/defaults.ts';
import { createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { call } from '../first-party/support.ts';
import { eventually, outboxTo } from '../email/support.ts';
import { codeAt, enrolFromAccount, idTokenOf, signInToAccount, startSignIn, texts, toCallback, MFA_ACR } from './support.ts';

// Issue 13: TOTP as a second factor, recovery codes, and what a relying party sees (amr, acr).
// Codes are computed here from the secret the enrolment page shows, as a phone would.
describe(`TOTP and recovery codes (${STORAGE})`, () => {
  // Three wrong codes lock (the shipped limits are five); no progressive delay to wait out.
  const throttle = { ...defaults.throttle, account: { ...defaults.throttle.account, lockAfter: 3, captchaAfter: 3 }, delay: { baseMs: 0, maxMs: 0 } };
  const { server } = useServer({ overrides: { throttle } });
  let user: TestUser;
  let config: oidc.Configuration;
  let totp: Awaited<ReturnType<typeof enrolFromAccount>>['totp'];
  let recoveryCodes: string[];

  before(async () => {
    user = await createUser(server);
    config = await rpConfig(server, await createClient(server, { name: 'Shop' }));
  });

  test('/account enrols an authenticator app: QR code and otpauth URI, a first code, then ten recovery codes shown once', async () => {
    const { browser, page } = await signInToAccount(server, user);
    assert.equal(page.status, 200);
    assert.match(page.body, /href="\/account\/totp"/);
    // Confirmed with the code of the step before: a phone clock one step slow is accepted.
    const enrolled = await enrolFromAccount(server, browser, -1);
    assert.match(enrolled.enrol.body, /<svg[^>]*viewBox/, 'the QR code is an SVG in the page');
    assert.equal(enrolled.totp.issuer, 'Gatehouse');
    assert.equal(enrolled.totp.label, user.email);
    assert.equal(enrolled.totp.algorithm, 'SHA1');
    assert.equal(enrolled.totp.digits, 6);
    assert.equal(enrolled.totp.period, 30);
    assert.equal(enrolled.done.status, 200, enrolled.done.body.slice(0, 500));
    assert.equal(enrolled.recoveryCodes.length, 10);
    assert.equal(new Set(enrolled.recoveryCodes).size, 10);
    ({ totp, recoveryCodes } = enrolled);

    // At rest: the secret sealed, the recovery codes hashed.
    const row = await server.services.knex('account_totp').where({ account_id: user.id }).first();
    assert.ok(row.confirmed_at);
    assert.ok(!row.secret_sealed.includes(totp.secret.base32));
    const stored = JSON.stringify(await server.services.knex('account_recovery_codes').where({ account_id: user.id }));
    for (const code of recoveryCodes) assert.ok(!stored.includes(code) && !stored.includes(code.replace('-', '')));

    // Shown once: /account now says the app is on and counts the codes, never shows them.
    const account = await browser.follow(`${server.url}/account`);
    assert.match(account.body, /data-factor="totp"/);
    assert.match(account.body, /10/);
    assert.deepEqual(texts(account.body, 'data-recovery-code'), []);
    assert.ok((await browser.follow(`${server.url}/account/totp`)).url.endsWith('/account'), 'a second enrolment is refused: back to /account');
  });

  test('signing in asks for the code after the password; the ID token says pwd + otp + mfa and the multi-factor acr', async () => {
    const flow = await startSignIn(config, user);
    assert.equal(flow.page.status, 200);
    assert.match(flow.page.url, /\/interaction\/[^/]+\/mfa$/);
    assert.match(flow.page.body, /name="code"/);
    const wrong = await flow.browser.submit(flow.page, { code: '000000' }, { field: 'code', stopAt: flow.atCallback });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /role="alert"/);
    const done = await toCallback(flow, await flow.browser.submit(wrong, { code: await codeAt(totp, 0) }, { field: 'code', stopAt: flow.atCallback }));
    const claims = await idTokenOf(config, flow, done);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.acr, MFA_ACR);
    assert.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
  });

  test('a code is accepted once: the same code again is refused, the next step is accepted (one step of drift ahead)', async () => {
    // The code of the sign-in before (this step) is spent.
    const code = await codeAt(totp, 0);
    const again = await startSignIn(config, user);
    const replay = await again.browser.submit(again.page, { code }, { field: 'code', stopAt: again.atCallback });
    assert.equal(replay.status, 400, 'a replayed code is refused');
    assert.ok(!again.atCallback(replay.url));
    const ahead = await again.browser.submit(replay, { code: await codeAt(totp, 1) }, { field: 'code', stopAt: again.atCallback });
    const claims = await idTokenOf(config, again, await toCallback(again, ahead));
    assert.ok((claims.amr as string[]).includes('mfa'));
  });

  test('a recovery code signs in once; typed in capitals or without its dash it is the same code', async () => {
    const flow = await startSignIn(config, user);
    const used = recoveryCodes[0]!;
    const done = await toCallback(flow, await flow.browser.submit(flow.page, { code: used.toUpperCase().replace('-', ' ') }, { field: 'code', stopAt: flow.atCallback }));
    const claims = await idTokenOf(config, flow, done);
    assert.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
    const again = await startSignIn(config, user);
    const refused = await again.browser.submit(again.page, { code: used }, { field: 'code', stopAt: again.atCallback });
    assert.equal(refused.status, 400, 'a spent recovery code is refused');
    // Another one still works.
    await toCallback(again, await again.browser.submit(refused, { code: recoveryCodes[1]! }, { field: 'code', stopAt: again.atCallback }));
    const events = await server.services.security.events.list({ accountId: user.id, type: 'mfa.recovery_code_used' });
    assert.equal(events.length, 2);
  });

  test('POST /session/login does not open a session with the password alone: MFA_REQUIRED, no cookies', async () => {
    const app = await createClient(server, { firstParty: true, redirectUris: ['http://127.0.0.1:9/app'], public: true });
    const res = await call(server, '/session/login', { method: 'POST', origin: 'http://127.0.0.1:9', body: { client_id: app.client_id, login: user.email, password: user.password } });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body!.error, 'MFA_REQUIRED');
    assert.equal(res.cookies.get('gatehouse_at'), undefined);
    assert.equal(res.cookies.get('gatehouse_rt'), undefined);
  });

  test('guessing codes locks like guessing passwords, per account: a right code is refused during the lock', async () => {
    const flow = await startSignIn(config, user);
    let page = flow.page;
    for (let i = 0; i < 2; i++) {
      page = await flow.browser.submit(page, { code: '123456' }, { field: 'code' });
      assert.equal(page.status, 400);
    }
    page = await flow.browser.submit(page, { code: '654321' }, { field: 'code' });
    assert.equal(page.status, 429, 'the third wrong code locks');
    assert.ok(Number(page.headers.get('retry-after')) > 0);
    // Giving the password again does not forgive the code guesses.
    const retry = await startSignIn(config, user);
    const locked = await retry.browser.submit(retry.page, { code: await codeAt(totp, 1) }, { field: 'code', stopAt: retry.atCallback });
    assert.equal(locked.status, 429);
    const events = await server.services.security.events.list({ accountId: user.id, type: 'account.locked' });
    assert.equal(events.length, 1);
    // Its owner is told that the password is known (the lock notice of a second factor).
    assert.ok(await eventually(async () => (await outboxTo(server, user.email)).find((m) => m.template === 'second-factor-locked')));
  });
});
