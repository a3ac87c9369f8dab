import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type * as oidc from 'openid-client';
import { createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { call } from '../first-party/support.ts';
import { authenticatorFrom, codeAt, idTokenOf, startSignIn, texts, toCallback, MFA_ACR } from './support.ts';

const PASSWORD_ACR = 'urn:gatehouse:acr:password';

// Issue 13: who is asked for a second factor. A client's acr_values, the `mfa` policy (admins by
// default), and nobody else: an account without a factor signing in to a client that does not
// ask is not bothered.
describe(`multi-factor policy and acr_values (${STORAGE})`, () => {
  const { server } = useServer();
  let config: oidc.Configuration;

  before(async () => {
    config = await rpConfig(server, await createClient(server, { name: 'Bank' }));
  });

  test('discovery lists the acr values; a client that does not ask gets a password sign-in for an account without a factor', async () => {
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as { acr_values_supported?: string[]; claims_supported?: string[] };
    assert.deepEqual(discovery.acr_values_supported, [PASSWORD_ACR, MFA_ACR]);
    assert.ok(discovery.claims_supported?.includes('amr'));
    const user = await createUser(server);
    const flow = await startSignIn(config, user);
    assert.ok(!/\/mfa$/.test(flow.page.url), 'no second step');
    const claims = await idTokenOf(config, flow, await toCallback(flow, flow.page));
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, PASSWORD_ACR);
  });

  test('acr_values=multi-factor: an account without a factor enrols one in the flow and gets the multi-factor acr', async () => {
    const user = await createUser(server);
    const flow = await startSignIn(config, user, { extra: { acr_values: MFA_ACR } });
    assert.equal(flow.page.status, 200);
    const totp = authenticatorFrom(flow.page);
    assert.match(flow.page.body, /<svg/);
    const wrong = await flow.browser.submit(flow.page, { code: '999999' }, { field: 'code', stopAt: flow.atCallback });
    assert.equal(wrong.status, 400);
    assert.equal(authenticatorFrom(wrong).secret.base32, totp.secret.base32, 'the same secret is offered again');
    const codes = await flow.browser.submit(wrong, { code: await codeAt(totp) }, { field: 'code', stopAt: flow.atCallback });
    assert.equal(codes.status, 200, codes.body.slice(0, 600));
    assert.equal(texts(codes.body, 'data-recovery-code').length, 10);
    const claims = await idTokenOf(config, flow, await toCallback(flow, codes));
    assert.equal(claims.acr, MFA_ACR);
    assert.ok((claims.amr as string[]).includes('mfa') && (claims.amr as string[]).includes('otp'));

    // The same browser's session is multi-factor now: asking again needs no new sign-in.
    const again = await startSignIn(config, user, { browser: flow.browser }).catch((err: Error) => err);
    assert.ok(again instanceof Error && /expected the login page, got 303/.test(again.message), 'straight back to the client');

    // prompt=login signs in again with the same factors: password, then a code.
    const relogin = await startSignIn(config, user, { browser: flow.browser, extra: { prompt: 'login' } });
    assert.match(relogin.page.url, /\/mfa$/);
    const reclaims = await idTokenOf(config, relogin, await toCallback(relogin, await relogin.browser.submit(relogin.page, { code: await codeAt(totp, 1) }, { field: 'code', stopAt: relogin.atCallback })));
    assert.equal(reclaims.acr, MFA_ACR);
  });

  test('a session signed in with a password alone signs in again when a client asks for multi-factor', async () => {
    const user = await createUser(server);
    const first = await startSignIn(config, user);
    await toCallback(first, first.page);
    const stepUp = await startSignIn(config, user, { browser: first.browser, extra: { acr_values: MFA_ACR } });
    assert.ok(authenticatorFrom(stepUp.page), 'asked to add a factor, never given a password-only token');
    // max_age=0 is a sign-in too, and asks for the same factors.
    const totp = authenticatorFrom(stepUp.page);
    await toCallback(stepUp, await stepUp.browser.submit(stepUp.page, { code: await codeAt(totp) }, { field: 'code', stopAt: stepUp.atCallback }));
    const maxAge = await startSignIn(config, user, { browser: first.browser, extra: { max_age: '0' } });
    assert.match(maxAge.page.url, /\/mfa$/);
    assert.match(maxAge.page.body, /name="code"/);
  });

  test('an admin (mfa.requireForRoles defaults to admin) without a factor is asked to enrol, and JSON login says so', async () => {
    const admin: TestUser = await createUser(server, { roles: ['admin'] });
    const flow = await startSignIn(config, admin);
    const totp = authenticatorFrom(flow.page);
    const codes = await flow.browser.submit(flow.page, { code: await codeAt(totp) }, { field: 'code', stopAt: flow.atCallback });
    const claims = await idTokenOf(config, flow, await toCallback(flow, codes));
    assert.equal(claims.acr, MFA_ACR);

    const other = await createUser(server, { roles: ['admin'] });
    const app = await createClient(server, { firstParty: true, redirectUris: ['http://127.0.0.1:9/app'], public: true });
    const res = await call(server, '/session/login', { method: 'POST', origin: 'http://127.0.0.1:9', body: { client_id: app.client_id, login: other.email, password: other.password } });
    assert.equal(res.status, 403);
    assert.equal(res.body!.error, 'MFA_ENROLMENT_REQUIRED');
    assert.equal(res.cookies.get('gatehouse_at'), undefined);
  });
});

describe(`mfa.requireForEveryone (${STORAGE})`, () => {
  const { server } = useServer({ overrides: { mfa: { requireForRoles: [], requireForEveryone: true } } });

  test('every account is asked to enrol a second factor', async () => {
    const config = await rpConfig(server, await createClient(server));
    const flow = await startSignIn(config, await createUser(server));
    assert.ok(authenticatorFrom(flow.page));
  });
});
