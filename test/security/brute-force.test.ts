import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { defaults } from '../../config/defaults.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { randomBytes } from 'node:crypto';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { useServer, type TestServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually, outboxTo, PersonBrowser } from '../email/support.ts';

// Password guessing against the hosted login (ASVS V6.3.1): counted per account and per
// address, locked after the configured failures, captcha once failures pile up. Every test
// guesses from an address of its own (PersonBrowser, behind TRUST_PROXY) with accounts of its
// own, and reads only its own events: what it checks does not depend on the tests before it.
const REDIRECT = 'http://127.0.0.1:9/callback';
// The shipped thresholds, with a short progressive delay so the test stays quick.
const throttle = { ...defaults.throttle, delay: { baseMs: 10, maxMs: 40 } };

async function openLogin(server: TestServer, client: ClientMetadata, browser: Browser = new PersonBrowser()) {
  const url = new URL('/auth', server.url);
  for (const [k, v] of Object.entries({ client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })) {
    url.searchParams.set(k, v);
  }
  const page = await browser.follow(url.toString());
  const action = new URL(page.body.match(/action="([^"]+\/login)"/)![1]!, server.url).toString();
  return { browser, page, action, post: (form: Record<string, string>) => browser.request(action, { form }) };
}

const TOO_MANY = `Too many attempts: try again in ${throttle.account.lockSeconds / 60} minutes, or reset your password.`;
const alert = (body: string) => body.match(/<p class="alert alert-error"[^>]*>([^<]*)<\/p>/)?.[1];

/** The security events of one type recorded for requests from `ip`. */
async function eventsFrom(server: TestServer, ip: string, type: string) {
  return (await server.services.security.events.list({ type, limit: 1000 })).filter((e) => e.ip === ip);
}

describe('brute force on the hosted login', () => {
  const { server } = useServer({ env: BEHIND_PROXY, overrides: { throttle } });
  let client: ClientMetadata;

  before(async () => {
    client = await createClient(server, { redirectUris: [REDIRECT] });
  });

  // Issue 12 changed what a lock answers: no longer exactly like a wrong password (400), but
  // "too many attempts" (429), for existing and unknown logins alike (the test below).
  test('five wrong passwords lock the account: the right one is then refused with "too many attempts"', async () => {
    const victim = await createUser(server);
    const { browser, post } = await openLogin(server, client);
    const wrong = [];
    for (let i = 0; i < throttle.account.lockAfter; i++) wrong.push(await post({ login: victim.email, password: `wrong password ${i}` }));
    assert.ok(wrong.every((r) => r.status === 400));
    const locked = await post({ login: victim.email, password: victim.password });
    assert.equal(locked.status, 429);
    assert.equal(alert(locked.body), TOO_MANY, 'a locked account says so, and when to try again');
    assert.notEqual(alert(locked.body), alert(wrong[0]!.body));
    assert.match(locked.body, /<a href="\/forgot-password">Reset your password<\/a>/);

    const events = await eventsFrom(server, (browser as PersonBrowser).ip, 'account.locked');
    assert.equal(events.length, 1);
  });

  test('a lock is per account: another account signs in from the same address', async () => {
    const victim = await createUser(server);
    const other = await createUser(server);
    const { post } = await openLogin(server, client);
    for (let i = 0; i < throttle.account.lockAfter; i++) await post({ login: victim.email, password: `wrong password ${i}` });
    assert.equal((await post({ login: victim.email, password: victim.password })).status, 429, 'the victim is locked');
    const res = await post({ login: other.email, password: other.password });
    assert.equal(res.status, 303);
  });

  test('parallel guesses cannot slip past the limit', async () => {
    const victim = await createUser(server);
    const { browser, post } = await openLogin(server, client);
    await Promise.all(Array.from({ length: 15 }, (_, i) => post({ login: victim.email, password: `parallel guess ${i}` })));
    const failed = await eventsFrom(server, (browser as PersonBrowser).ip, 'login.failed');
    const checked = failed.filter((e) => (e.details as { reason?: string }).reason === 'credentials').length;
    const refused = failed.filter((e) => (e.details as { reason?: string }).reason === 'locked').length;
    // Exactly: this test's 15 guesses are the only failures from its address.
    assert.equal(checked, throttle.account.lockAfter, `${throttle.account.lockAfter} of 15 guesses reached the password check, no more`);
    assert.equal(refused, 15 - throttle.account.lockAfter, 'the others were refused as locked');
    const after = await post({ login: victim.email, password: victim.password });
    assert.equal(after.status, 429, 'and the account is locked');
  });

  test('the same counts apply to POST /session/login', async () => {
    const victim = await createUser(server);
    const firstParty = await createClient(server, { firstParty: true, redirectUris: [`${server.url}/app`] });
    const ip = new PersonBrowser().ip;
    const login = (password: string) =>
      fetch(`${server.url}/session/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: server.url, 'x-forwarded-for': ip },
        body: JSON.stringify({ client_id: firstParty.client_id, login: victim.email, password }),
      });
    for (let i = 0; i < throttle.account.lockAfter; i++) assert.equal((await login(`nope ${i}`)).status, 401);
    const res = await login(victim.password);
    assert.equal(res.status, 429, 'locked by JSON guesses as well');
    assert.equal(((await res.json()) as { error: string }).error, 'TOO_MANY_ATTEMPTS');
    assert.equal(res.headers.get('retry-after'), String(throttle.account.lockSeconds));
  });
});


describe('lockout people understand (issue 12)', () => {
  const { server } = useServer({ env: BEHIND_PROXY, overrides: { throttle } });
  let client: ClientMetadata;

  before(async () => {
    client = await createClient(server, { redirectUris: [REDIRECT] });
  });

  const lockNotices = async (address: string) => (await outboxTo(server, address)).filter((m) => m.template === 'account-locked');

  test('an unknown login locks alike, with the same message: nothing tells it from an account', async () => {
    const victim = await createUser(server);
    const nobody = `nobody-${randomBytes(4).toString('hex')}@example.com`;
    const answers = [];
    for (const login of [victim.email, nobody]) {
      const { post } = await openLogin(server, client);
      for (let i = 0; i < throttle.account.lockAfter; i++) assert.equal((await post({ login, password: `wrong password ${i}` })).status, 400);
      answers.push(await post({ login, password: 'one more guess' }));
    }
    assert.deepEqual(answers.map((a) => a.status), [429, 429]);
    assert.deepEqual(answers.map((a) => alert(a.body)), [TOO_MANY, TOO_MANY]);
  });

  test('failures count per account, whichever of its e-mail address or username is typed', async () => {
    const username = `user${randomBytes(4).toString('hex')}`;
    const victim = await createUser(server, { username });
    const { post } = await openLogin(server, client);
    const half = Math.ceil(throttle.account.lockAfter / 2);
    for (let i = 0; i < throttle.account.lockAfter; i++) {
      const login = i < half ? victim.email : username.toUpperCase();
      assert.equal((await post({ login, password: `wrong password ${i}` })).status, 400);
    }
    const byEmail = await post({ login: victim.email, password: victim.password });
    assert.equal(byEmail.status, 429, 'locked after lockAfter failures in all, not per login typed');
    assert.equal((await post({ login: username, password: victim.password })).status, 429);
  });

  test('the owner gets one notice per lock, with a link to choose a new password', async () => {
    const victim = await createUser(server);
    const { post } = await openLogin(server, client);
    for (let i = 0; i < throttle.account.lockAfter; i++) await post({ login: victim.email, password: `wrong password ${i}` });
    for (let i = 0; i < 3; i++) assert.equal((await post({ login: victim.email, password: `more ${i}` })).status, 429);
    const notices = await eventually(async () => {
      const found = await lockNotices(victim.email);
      return found.length > 0 && found;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await lockNotices(victim.email)).length, 1, 'one notice per lock, however many attempts follow');
    const message = await eventually(async () => {
      const m = await server.email.outbox.repo.findById(notices[0]!.id);
      return m?.status === 'sent' && m;
    });
    assert.match(message.subject ?? '', /paused/);
    assert.match(message.textBody ?? '', new RegExp(`${server.url}/reset-password\\?token=`));
  });
});

describe('captcha after repeated failures (turnstile, siteverify answered locally)', () => {
  let client: ClientMetadata;
  let siteverify: Server;
  let siteverifyPort: number;
  const seen: URLSearchParams[] = [];
  /** A token the stand-in siteverify accepts, new for every use. */
  const humanToken = () => `human-${randomBytes(6).toString('hex')}`;

  before(async () => {
    // The provider's siteverify is outside our control: this stands in for it.
    siteverify = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        seen.push(form);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ success: form.get('response')?.startsWith('human-') ?? false }));
      });
    });
    await new Promise<void>((r) => siteverify.listen(0, '127.0.0.1', r));
    siteverifyPort = (siteverify.address() as { port: number }).port;
  });
  const { server } = useServer({
    env: () => ({
      ...BEHIND_PROXY,
      CAPTCHA_PROVIDER: 'turnstile',
      CAPTCHA_SITE_KEY: 'site-key-1',
      CAPTCHA_SECRET: 'secret-1',
      CAPTCHA_VERIFY_URL: `http://127.0.0.1:${siteverifyPort}/siteverify`,
    }),
    overrides: { throttle },
  });
  before(async () => {
    client = await createClient(server, { redirectUris: [REDIRECT] });
  });
  after(async () => {
    siteverify?.close();
  });

  test('the widget appears after three failures and the next attempt needs a valid, unused token', async () => {
    const user = await createUser(server);
    const { browser, page, post } = await openLogin(server, client);
    assert.doesNotMatch(page.body, /cf-turnstile/, 'no captcha before failures');
    let last;
    for (let i = 0; i < throttle.account.captchaAfter; i++) last = await post({ login: user.email, password: `bad ${i}` });
    assert.match(last!.body, /class="captcha cf-turnstile" data-sitekey="site-key-1"/);
    assert.match(last!.body, /<script src="https:\/\/challenges.cloudflare.com\/turnstile\/v0\/api.js"/);
    assert.match(last!.headers.get('content-security-policy')!, /script-src 'self' https:\/\/challenges.cloudflare.com/);

    const without = await post({ login: user.email, password: user.password });
    assert.equal(without.status, 400);
    assert.match(alert(without.body)!, /captcha|verification|human/i);

    const botToken = await post({ login: user.email, password: user.password, 'cf-turnstile-response': 'bot-token' });
    assert.equal(botToken.status, 400);

    const token = humanToken();
    const ok = await post({ login: user.email, password: user.password, 'cf-turnstile-response': token });
    assert.equal(ok.status, 303, 'a human with the right password gets in');
    const sent = seen.find((f) => f.get('response') === token)!;
    assert.equal(sent.get('secret'), 'secret-1');
    assert.equal(sent.get('remoteip'), (browser as PersonBrowser).ip, "the client's address, as Gatehouse sees it");
  });

  test('a captcha token is accepted once only', async () => {
    // Two sign-ins, each past its captcha threshold: one spends a token, the other tries it again.
    const [first, second] = [await createUser(server), await createUser(server)];
    const [a, b] = [await openLogin(server, client), await openLogin(server, client)];
    for (let i = 0; i < throttle.account.captchaAfter; i++) {
      await a.post({ login: first.email, password: `bad ${i}` });
      await b.post({ login: second.email, password: `bad ${i}` });
    }
    const token = humanToken();
    assert.equal((await a.post({ login: first.email, password: first.password, 'cf-turnstile-response': token })).status, 303, 'the token works once');
    const reuse = await b.post({ login: second.email, password: second.password, 'cf-turnstile-response': token });
    assert.equal(reuse.status, 400, 'the token is spent');
    const fresh = await b.post({ login: second.email, password: second.password, 'cf-turnstile-response': humanToken() });
    assert.equal(fresh.status, 303);
  });

  test('an unreachable siteverify refuses (fails closed)', async () => {
    const third = await createUser(server);
    const { post } = await openLogin(server, client);
    for (let i = 0; i < throttle.account.captchaAfter; i++) await post({ login: third.email, password: `bad ${i}` });
    siteverify.closeAllConnections();
    await new Promise((resolve) => siteverify.close(resolve));
    try {
      const res = await post({ login: third.email, password: third.password, 'cf-turnstile-response': humanToken() });
      // RFC 9110 §15.6.4: the captcha cannot be checked now, which is no fault of the user's.
      assert.equal(res.status, 503, 'refused as unavailable, not as a failed captcha');
      assert.match(res.body, /The captcha check is unavailable right now/);
    } finally {
      await new Promise<void>((r) => siteverify.listen(siteverifyPort, '127.0.0.1', r));
    }
  });
});
