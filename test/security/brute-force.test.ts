import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { defaults } from '../../config/defaults.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { useServer, type TestServer } from '../helpers/server.ts';

// Password guessing against the hosted login (ASVS V6.3.1): counted per account and per
// address, locked after the configured failures, captcha once failures pile up.
const REDIRECT = 'http://127.0.0.1:9/callback';
// The shipped thresholds, with a short progressive delay so the test stays quick.
const throttle = { ...defaults.throttle, delay: { baseMs: 10, maxMs: 40 } };

async function openLogin(server: TestServer, client: ClientMetadata, browser = new Browser()) {
  const url = new URL('/auth', server.url);
  for (const [k, v] of Object.entries({ client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' })) {
    url.searchParams.set(k, v);
  }
  const page = await browser.follow(url.toString());
  const action = new URL(page.body.match(/action="([^"]+\/login)"/)![1]!, server.url).toString();
  return { browser, page, action, post: (form: Record<string, string>) => browser.request(action, { form }) };
}

const alert = (body: string) => body.match(/<p class="alert alert-error"[^>]*>([^<]*)<\/p>/)?.[1];

describe('brute force on the hosted login', () => {
  const { server } = useServer({ overrides: { throttle } });
  let client: ClientMetadata;

  before(async () => {
    client = await createClient(server, { redirectUris: [REDIRECT] });
  });

  test('five wrong passwords lock the account: the right one is then refused like a wrong one', async () => {
    const victim = await createUser(server);
    const { post } = await openLogin(server, client);
    const wrong = [];
    for (let i = 0; i < throttle.account.lockAfter; i++) wrong.push(await post({ login: victim.email, password: `wrong password ${i}` }));
    assert.ok(wrong.every((r) => r.status === 400));
    const locked = await post({ login: victim.email, password: victim.password });
    assert.equal(locked.status, 400);
    assert.equal(alert(locked.body), alert(wrong[0]!.body), 'a locked account answers exactly like a wrong password');

    const events = await server.app.gatehouse.security.events.list({ type: 'account.locked' });
    assert.equal(events.length, 1);
  });

  test('a lock is per account: another account signs in from the same address', async () => {
    const other = await createUser(server);
    const { post } = await openLogin(server, client);
    const res = await post({ login: other.email, password: other.password });
    assert.equal(res.status, 303);
  });

  test('parallel guesses cannot slip past the limit', async () => {
    const victim = await createUser(server);
    const { post } = await openLogin(server, client);
    await Promise.all(Array.from({ length: 15 }, (_, i) => post({ login: victim.email, password: `parallel guess ${i}` })));
    const failed = await server.app.gatehouse.security.events.list({ type: 'login.failed' });
    const checked = failed.filter((e) => (e.details as { reason?: string }).reason === 'credentials').length;
    const refused = failed.filter((e) => (e.details as { reason?: string }).reason === 'locked').length;
    assert.ok(refused >= 15 - throttle.account.lockAfter, `at most ${throttle.account.lockAfter} of 15 guesses reached the password check`);
    assert.ok(checked >= throttle.account.lockAfter);
    const after = await post({ login: victim.email, password: victim.password });
    assert.equal(after.status, 400, 'and the account is locked');
  });

  test('the same counts apply to POST /session/login', async () => {
    const victim = await createUser(server);
    const firstParty = await createClient(server, { firstParty: true, redirectUris: [`${server.url}/app`] });
    const login = (password: string) =>
      fetch(`${server.url}/session/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: server.url },
        body: JSON.stringify({ client_id: firstParty.client_id, login: victim.email, password }),
      });
    for (let i = 0; i < throttle.account.lockAfter; i++) assert.equal((await login(`nope ${i}`)).status, 401);
    const res = await login(victim.password);
    assert.equal(res.status, 401, 'locked by JSON guesses as well');
  });
});

describe('captcha after repeated failures (turnstile, siteverify answered locally)', () => {
  let client: ClientMetadata;
  let user: TestUser;
  let siteverify: Server;
  const seen: URLSearchParams[] = [];

  before(async () => {
    // The provider's siteverify is outside our control: this stands in for it.
    siteverify = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        seen.push(form);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ success: form.get('response') === 'human-token' || form.get('response') === 'human-token-2' }));
      });
    });
    await new Promise<void>((r) => siteverify.listen(0, '127.0.0.1', r));
  });
  const { server } = useServer({
    env: () => ({
      CAPTCHA_PROVIDER: 'turnstile',
      CAPTCHA_SITE_KEY: 'site-key-1',
      CAPTCHA_SECRET: 'secret-1',
      CAPTCHA_VERIFY_URL: `http://127.0.0.1:${(siteverify.address() as { port: number }).port}/siteverify`,
    }),
    overrides: { throttle },
  });
  before(async () => {
    client = await createClient(server, { redirectUris: [REDIRECT] });
    user = await createUser(server);
  });
  after(async () => {
    siteverify?.close();
  });

  test('the widget appears after three failures and the next attempt needs a valid, unused token', async () => {
    const { page, post } = await openLogin(server, client);
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

    const ok = await post({ login: user.email, password: user.password, 'cf-turnstile-response': 'human-token' });
    assert.equal(ok.status, 303, 'a human with the right password gets in');
    const sent = seen.find((f) => f.get('response') === 'human-token')!;
    assert.equal(sent.get('secret'), 'secret-1');
    assert.equal(sent.get('remoteip'), '127.0.0.1');
  });

  test('a captcha token is accepted once only', async () => {
    const second = await createUser(server);
    const { post } = await openLogin(server, client);
    for (let i = 0; i < throttle.account.captchaAfter; i++) await post({ login: second.email, password: `bad ${i}` });
    const reuse = await post({ login: second.email, password: second.password, 'cf-turnstile-response': 'human-token' });
    assert.equal(reuse.status, 400, 'the token used in the previous test is spent');
    const fresh = await post({ login: second.email, password: second.password, 'cf-turnstile-response': 'human-token-2' });
    assert.equal(fresh.status, 303);
  });

  test('an unreachable siteverify refuses (fails closed)', async () => {
    const third = await createUser(server);
    const { post } = await openLogin(server, client);
    for (let i = 0; i < throttle.account.captchaAfter; i++) await post({ login: third.email, password: `bad ${i}` });
    siteverify.close();
    const res = await post({ login: third.email, password: third.password, 'cf-turnstile-response': 'human-token-3' });
    assert.ok(res.status === 503 || res.status === 400, `refused (${res.status})`);
    assert.notEqual(res.status, 303);
  });
});
