import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createAccessTokenVerifier, AccessTokenError } from '../../src/first-party/resource-server.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { appUrl, call, setCookies, signIn } from './support.ts';

describe(`GET /session/start: the hosted login for first-party apps (${STORAGE})`, () => {
  const { server } = useServer();
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    user = await createUser(server, { name: 'Ada Lovelace', roles: ['editor'] });
    client = await createClient(server, { firstParty: true, redirectUris: ['http://127.0.0.1:9/app', 'http://127.0.0.1:9/other'] });
  });

  test('signs in without a consent page and comes back to return_to with both cookies, flagged per CONTRACT', async () => {
    const { landed, browser } = await signIn(server, client, user);
    assert.equal(landed.status, 303);
    assert.equal(landed.headers.get('location'), appUrl(client));

    const cookies = setCookies(landed.headers);
    const at = cookies.get('gatehouse_at');
    const rt = cookies.get('gatehouse_rt');
    assert.ok(at && rt, 'both cookies are set on the way back');
    for (const c of [at, rt]) {
      assert.equal(c.attributes.httponly, true, `${c.name} is HttpOnly`);
      assert.equal(c.attributes.samesite, 'Lax', `${c.name} is SameSite=Lax`);
      assert.equal(c.attributes.secure, undefined, `${c.name} is not Secure under an http issuer`);
      assert.equal(c.attributes.domain, undefined, `${c.name} is host-only without COOKIE_DOMAIN`);
    }
    assert.equal(at.attributes.path, '/');
    assert.equal(rt.attributes.path, '/session');
    const { firstParty } = server.config;
    assert.ok(Number(at.attributes['max-age']) > 0 && Number(at.attributes['max-age']) <= firstParty.accessTokenTtlSeconds, 'the access cookie lives minutes');
    assert.ok(Number(rt.attributes['max-age']) > firstParty.accessTokenTtlSeconds && Number(rt.attributes['max-age']) <= firstParty.refreshIdleSeconds);

    // RFC 9068: a JWT that verifies against the published JWKS, typed, for the client.
    const { payload, protectedHeader } = await jwtVerify(at.value, createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
      issuer: server.url,
      audience: client.client_id,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, user.id);
    assert.equal(payload.client_id, client.client_id);
    assert.equal(payload.exp! - payload.iat!, firstParty.accessTokenTtlSeconds);

    // The refresh token is a JWT of the same keys whose jti names a record; it is not an access token.
    assert.equal(decodeProtectedHeader(rt.value).typ, 'rt+jwt');
    assert.equal(typeof decodeJwt(rt.value).jti, 'string');
    const verify = createAccessTokenVerifier({ issuer: server.url, audience: client.client_id });
    await assert.rejects(verify(rt.value), (err: AccessTokenError) => err.reason === 'typ');

    const jar = Object.fromEntries(browser.cookies.get(new URL(server.url).host)!);
    assert.ok(!Object.keys(jar).some((k) => k.startsWith('gatehouse_flow_')), 'the flow cookie is spent');
    const me = await call(server, '/session', { cookies: { gatehouse_at: at.value } });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, {
      sub: user.id,
      email: user.email,
      name: 'Ada Lovelace',
      roles: ['editor'],
      client_id: client.client_id,
      expires_at: payload.exp,
    });
    assert.equal(me.headers.get('cache-control'), 'no-store');
  });

  test('a second start in the same browser reuses the Gatehouse session: no password asked', async () => {
    const { browser } = await signIn(server, client, user);
    const returnTo = 'http://127.0.0.1:9/other';
    const start = `${server.url}/session/start?${new URLSearchParams({ client_id: client.client_id, return_to: returnTo })}`;
    const page = await browser.follow(start, {}, (u) => u.startsWith(returnTo));
    assert.equal(page.url, returnTo);
    assert.ok(setCookies(page.headers).get('gatehouse_at'));
  });

  test('return_to must be exactly a registered redirect URI: anything else is an error page, never a redirect', async () => {
    const candidates = [
      'http://127.0.0.1:9/app/',
      'http://127.0.0.1:9/app?next=/admin',
      'http://127.0.0.1:9/APP',
      'https://127.0.0.1:9/app',
      'http://evil.example/app',
      '//evil.example/app',
      `${server.url}/session/callback`,
      '',
    ];
    for (const returnTo of candidates) {
      const page = await new Browser().request(`${server.url}/session/start?${new URLSearchParams({ client_id: client.client_id, return_to: returnTo })}`);
      assert.equal(page.status, 400, returnTo);
      assert.equal(page.headers.get('location'), null, `no redirect for ${returnTo}`);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(page.body, /INVALID_RETURN_TO/);
    }
    const missing = await new Browser().request(`${server.url}/session/start?client_id=${client.client_id}`);
    assert.equal(missing.status, 400);
    assert.equal(missing.headers.get('location'), null);
  });

  test('the callback needs the flow cookie of the browser that started the sign-in', async () => {
    // Start in one browser, and try to finish in another: the login-CSRF case.
    const alice = new Browser();
    const start = `${server.url}/session/start?${new URLSearchParams({ client_id: client.client_id, return_to: appUrl(client) })}`;
    const loginPage = await alice.follow(start);
    const callbackUrl = await (async () => {
      const page = await alice.submit(loginPage, { login: user.email, password: user.password }, { field: 'login', stopAt: (u) => u.includes('/session/callback') });
      return page.url;
    })();
    const mallory = new Browser();
    const stolen = await mallory.request(callbackUrl);
    assert.equal(stolen.status, 400);
    assert.match(stolen.body, /LOGIN_FLOW_EXPIRED/);
    assert.equal(setCookies(stolen.headers).get('gatehouse_at'), undefined);

    // A forged flow cookie (not signed with SECRETS) is no better.
    const state = new URL(callbackUrl).searchParams.get('state')!;
    const forged = await mallory.request(callbackUrl, {
      headers: { cookie: `gatehouse_flow_${state}=${encodeURIComponent(JSON.stringify({ clientId: client.client_id, returnTo: 'http://evil.example/', verifier: 'x' }))}` },
    });
    assert.equal(forged.status, 400);
    assert.match(forged.body, /LOGIN_FLOW_EXPIRED/);
    assert.equal(forged.headers.get('location'), null);

    // The browser that started it finishes it.
    const done = await alice.request(callbackUrl);
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), appUrl(client));
  });

  test('cancelling on the login page shows an error page with a way back to the app', async () => {
    const browser = new Browser();
    const start = `${server.url}/session/start?${new URLSearchParams({ client_id: client.client_id, return_to: appUrl(client) })}`;
    const loginPage = await browser.follow(start);
    const abortForm = /action="([^"]*\/abort)"/.exec(loginPage.body)![1]!;
    const page = await browser.follow(new URL(abortForm, server.url).toString(), { method: 'POST', form: {} });
    assert.equal(page.status, 400);
    assert.match(page.body, /LOGIN_FAILED/);
    assert.ok(page.body.includes(`href="${appUrl(client)}"`), 'a link back to return_to');
    assert.equal(setCookies(page.headers).get('gatehouse_at'), undefined);
  });

  test('/login signs in to /account with Gatehouse\'s own first-party client', async () => {
    const browser = new Browser();
    const atAccount = (u: string) => u === `${server.url}/account`;
    const loginPage = await browser.follow(`${server.url}/login`, {}, atAccount);
    assert.equal(loginPage.status, 200);
    const landed = await browser.submit(loginPage, { login: user.email, password: user.password }, { field: 'login', stopAt: atAccount });
    assert.equal(landed.url, `${server.url}/account`);
    const at = setCookies(landed.headers).get('gatehouse_at')!;
    const me = await call(server, '/session', { cookies: { gatehouse_at: at.value } });
    assert.equal(me.status, 200);
    assert.equal(me.body!.client_id, server.config.firstParty.builtinClientId);
    assert.equal(me.body!.sub, user.id);
  });
});
