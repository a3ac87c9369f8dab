import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Browser, type Page } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { tcpProxy } from '../helpers/proxy.ts';
import { TEST_REDIS_URL, useServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';

// Hostile input at the HTTP edge (ASVS V1/V2 input handling): every answer is a clear 4xx,
// never a 500, never a crash, and never different for an unknown account.
const REDIRECT = 'http://127.0.0.1:9/callback';

describe('hostile input', () => {
  const ctx = useServer();
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    user = await createUser(ctx.server);
    client = await createClient(ctx.server, { redirectUris: [REDIRECT] });
  });

  async function loginPage(browser = new Browser()): Promise<{ browser: Browser; page: Page; action: string }> {
    const url = new URL('/auth', ctx.server.url);
    for (const [k, v] of Object.entries({ client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })) {
      url.searchParams.set(k, v);
    }
    const page = await browser.follow(url.toString());
    assert.equal(page.status, 200);
    const action = page.body.match(/action="([^"]+\/login)"/)![1]!;
    return { browser, page, action: new URL(action, ctx.server.url).toString() };
  }

  const errorText = (body: string) => body.match(/<p class="alert alert-error"[^>]*>([^<]*)<\/p>/)?.[1];

  async function tryLogin(login: string, password: string) {
    const { browser, action } = await loginPage();
    return browser.request(action, { form: { login, password } });
  }

  test('NUL bytes in the login field: the wrong-password answer, no 500', async () => {
    const res = await tryLogin(`${user.email}\u0000`, user.password);
    assert.equal(res.status, 400);
    assert.match(errorText(res.body)!, /Wrong e-mail address/);
  });

  test('a NUL byte, a line break or 300 characters in the e-mail of the reset and resend forms is refused at the door, the field marked (issue 15, finding 6)', async () => {
    for (const path of ['/forgot-password', '/verify-email/resend']) {
      for (const email of [`some\u0000one@example.com`, `${user.email}\u0000`, `a\r\nb@example.com`, `${'a'.repeat(300)}@example.com`]) {
        const browser = new Browser();
        const form = await browser.request(`${ctx.server.url}${path}`);
        const res = await browser.submit(form, { email }, { field: 'email' });
        assert.equal(res.status, 400, `${path} ${JSON.stringify(email)}: refused, not "sent"`);
        assert.match(errorText(res.body)!, /correct the highlighted/, path);
        assert.match(res.body, /<input name="email"[^>]*aria-invalid="true"/, `${path}: the field is marked`);
        assert.match(res.body, /field-error"[^>]*>Enter a valid e-mail address/, path);
      }
    }
    // The JSON sign-in says which field, as for its other field problems.
    const res = await fetch(`${ctx.server.url}/session/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ctx.server.url },
      body: JSON.stringify({ client_id: ctx.server.config.firstParty.builtinClientId, login: `${user.email}\u0000`, password: user.password }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; fields: Record<string, string> };
    assert.equal(body.error, 'VALIDATION_FAILED');
    assert.ok(body.fields.login, 'the login field is named');
  });

  test('SQL-looking logins are just wrong logins', async () => {
    for (const login of ["' OR '1'='1", `${user.email}' --`, "admin'; DROP TABLE accounts; --"]) {
      const res = await tryLogin(login, "' OR '1'='1");
      assert.equal(res.status, 400, login);
      assert.match(errorText(res.body)!, /Wrong e-mail address/);
    }
    assert.ok(await ctx.server.services.accounts.findById(user.id), 'the accounts table is intact');
  });

  test('the e-mail address matches case-insensitively but look-alikes do not', async () => {
    const upper = await tryLogin(user.email.toUpperCase(), user.password);
    assert.equal(upper.status, 303, 'mixed case is the same account');
    // Cyrillic "е" (U+0435) instead of Latin "e": another address, not this account.
    const lookAlike = await tryLogin(user.email.replace('e', '\u0435'), user.password);
    assert.equal(lookAlike.status, 400);
  });

  test('a 1 MB password is refused before any hashing (413)', async () => {
    const res = await tryLogin(user.email, 'x'.repeat(1024 * 1024));
    assert.equal(res.status, 413);
  });

  test('a wrong content type on a form endpoint is 415', async () => {
    const { browser, action } = await loginPage();
    const res = await browser.request(action, { method: 'POST', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 415);
  });

  test('a truncated body (Content-Length larger than what is sent) is a 400, and the server keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${ctx.server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '100' },
      });
      req.on('response', (res) => resolve(res.statusCode!));
      req.on('error', () => resolve(0));
      req.write('grant_type=authoriz');
      setTimeout(() => req.destroy(), 300);
      req.on('close', () => resolve(0));
      void reject;
    });
    assert.notEqual(status, 500);
    assert.equal((await fetch(`${ctx.server.url}/healthz`)).status, 200);
  });

  test('a malformed JSON body is a 400 JSON error', async () => {
    const res = await fetch(`${ctx.server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"redirect_uris": [' });
    assert.ok(res.status >= 400 && res.status < 500);
  });

  test('__proto__ in a JSON body pollutes nothing', async () => {
    const res = await fetch(`${ctx.server.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "redirect_uris": ["https://a.example/cb"]}',
    });
    assert.ok(res.status >= 400 && res.status < 500);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('over-long URL parameters are refused, not processed', async () => {
    // The router refuses a parameter over maxParamLength (200) before any handler looks it up:
    // 414 URI Too Long (RFC 9110 §15.5.15), where an unknown id of allowed length gets 400.
    const res = await fetch(`${ctx.server.url}/interaction/${'a'.repeat(5000)}`, { redirect: 'manual' });
    assert.equal(res.status, 414);
    assert.doesNotMatch(await res.text(), /INTERACTION_EXPIRED/, 'no interaction was looked up');
  });

  test('an unknown or expired interaction shows a clear page, not a stack trace', async () => {
    const res = await fetch(`${ctx.server.url}/interaction/doesnotexist`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    const body = await res.text();
    assert.match(body, /took too long|start again/);
    assert.doesNotMatch(body, /at .*\.ts:\d+/);
  });

  test('pages carry a strict CSP, deny framing and are not cached', async () => {
    const { page } = await loginPage();
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(page.headers.get('cache-control')!, /no-store/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const providerError = await fetch(`${ctx.server.url}/auth?client_id=nope`);
    assert.match(providerError.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
    assert.match(providerError.headers.get('cache-control')!, /no-store/);
  });

  test('X-Forwarded-For is ignored without TRUST_PROXY: spoofed addresses share one rate limit', async () => {
    let limited = 0;
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${ctx.server.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.0.${i}` },
        body: '{}',
      });
      if (res.status === 429) limited++;
    }
    assert.ok(limited >= 1, 'requests from "different" addresses were counted together');
  });
});

describe('rate limits when their Redis store is down', { skip: !TEST_REDIS_URL && 'needs REDIS_URL' }, () => {
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  before(async () => {
    const redis = new URL(TEST_REDIS_URL!);
    proxy = await tcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  });
  // Redis through the proxy, so the test can cut it for this server alone.
  const { server } = useServer({ storage: { redis: true }, env: () => ({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }) });
  after(async () => {
    await proxy?.close();
  });

  test('fail closed with 503, not unlimited', async () => {
    proxy.cut();
    const res = await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    assert.equal(res.status, 503);
    // Issue 15: on an OAuth endpoint the answer is RFC 6749's, not our SERVICE_UNAVAILABLE.
    assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
  });
});
