import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { openRedis, type RedisClient } from '../../src/redis.ts';
import { CaptchaError, createCaptchaVerifier, type CaptchaOptions, type CaptchaProvider } from '../../src/security/captcha.ts';
import { freePort, TEST_REDIS_URL } from '../helpers/server.ts';

// The captcha provider's siteverify is the one thing outside our control, so a local HTTP
// server answers in its place; everything else (HTTP, form encoding, JSON, Redis) is real.

interface Seen {
  method: string;
  path: string;
  contentType: string;
  form: Record<string, string>;
}

const SECRET = 'test-secret-0123456789';
let server: Server;
let base: string;
let requests: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void;
const ok = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: true, hostname: 'localhost' }));

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      requests.push({
        method: req.method!,
        path: req.url!,
        contentType: String(req.headers['content-type']),
        form: Object.fromEntries(new URLSearchParams(body)),
      });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = [];
  answer = (_req, res) => ok(res);
});

const token = () => `tok_${randomBytes(24).toString('base64url')}`;

const verifier = (extra: Partial<CaptchaOptions> = {}) =>
  createCaptchaVerifier({ provider: 'turnstile', siteKey: 'site-key', secret: SECRET, verifyUrl: `${base}/siteverify`, ...extra });

/** Asserts a CaptchaError with this code (and status) and a reason matching `reason`. */
const refused = (code: 'CAPTCHA_FAILED' | 'CAPTCHA_UNAVAILABLE', reason?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof CaptchaError, `a CaptchaError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.equal(err.statusCode, code === 'CAPTCHA_FAILED' ? 400 : 503);
  if (reason) assert.match(err.reason, reason);
  assert.ok(!err.message.includes(SECRET) && !err.reason.includes(SECRET), 'the secret is never in an error');
  return true;
};

describe('captcha: providers', () => {
  test("provider none: disabled, no widget, verify accepts anything without a request", async () => {
    const none = createCaptchaVerifier({ provider: 'none' });
    assert.equal(none.enabled, false);
    assert.equal(none.widget, undefined);
    await none.verify(undefined);
    await none.verify('');
    assert.equal(requests.length, 0);
  });

  const expected: Record<Exclude<CaptchaProvider, 'none'>, { url: string; field: string; className: string; script: string }> = {
    recaptcha: { url: 'https://www.google.com/recaptcha/api/siteverify', field: 'g-recaptcha-response', className: 'g-recaptcha', script: 'https://www.google.com/recaptcha/api.js' },
    hcaptcha: { url: 'https://api.hcaptcha.com/siteverify', field: 'h-captcha-response', className: 'h-captcha', script: 'https://js.hcaptcha.com/1/api.js' },
    turnstile: { url: 'https://challenges.cloudflare.com/turnstile/v0/siteverify', field: 'cf-turnstile-response', className: 'cf-turnstile', script: 'https://challenges.cloudflare.com/turnstile/v0/api.js' },
  };

  for (const [provider, e] of Object.entries(expected) as [Exclude<CaptchaProvider, 'none'>, (typeof expected)['recaptcha']][]) {
    test(`${provider}: POSTs secret, response and remoteip form-encoded to its default siteverify`, async () => {
      // The provider's real URL is asked for; the fetch hands the request to the local stand-in.
      const asked: string[] = [];
      const captcha = createCaptchaVerifier({
        provider,
        siteKey: 'the-site-key',
        secret: SECRET,
        fetch: (url, init) => {
          asked.push(String(url));
          return fetch(`${base}/siteverify`, init);
        },
      });
      assert.equal(captcha.enabled, true);
      assert.equal(captcha.siteKey, 'the-site-key');
      assert.equal(captcha.widget?.responseField, e.field);
      assert.equal(captcha.widget?.className, e.className);
      assert.equal(captcha.widget?.scriptUrl, e.script);
      assert.ok(captcha.widget!.csp.scriptSrc.length > 0 && captcha.widget!.csp.frameSrc.length > 0);

      const t = token();
      await captcha.verify(t, '203.0.113.5');
      assert.deepEqual(asked, [e.url]);
      assert.equal(requests.length, 1);
      const [r] = requests;
      assert.equal(r!.method, 'POST');
      assert.match(r!.contentType, /^application\/x-www-form-urlencoded/);
      assert.deepEqual(r!.form, { secret: SECRET, response: t, remoteip: '203.0.113.5', ...(provider === 'hcaptcha' ? { sitekey: 'the-site-key' } : {}) });
    });
  }

  test('CAPTCHA_VERIFY_URL overrides the endpoint; remoteip is left out when unknown', async () => {
    const t = token();
    await verifier({ verifyUrl: `${base}/custom/path` }).verify(t);
    assert.equal(requests[0]!.path, '/custom/path');
    assert.deepEqual(requests[0]!.form, { secret: SECRET, response: t });
  });

  test('tokenFrom reads the widget field of a form, or `captcha` of a JSON body, never an inherited one', () => {
    const captcha = verifier();
    assert.equal(captcha.tokenFrom({ 'cf-turnstile-response': 'from-form', captcha: 'from-json' }), 'from-form');
    assert.equal(captcha.tokenFrom({ captcha: 'from-json' }), 'from-json');
    assert.equal(captcha.tokenFrom(JSON.parse('{"__proto__": {"captcha": "polluted"}}')), undefined);
    assert.equal(captcha.tokenFrom(undefined), undefined);
    assert.equal(captcha.tokenFrom('captcha=x'), undefined);
    assert.equal(createCaptchaVerifier({ provider: 'none' }).tokenFrom({ captcha: 'x' }), 'x');
  });

  test('a provider without its secret, or with a verify URL that is not http(s), is refused at creation', () => {
    assert.throws(() => createCaptchaVerifier({ provider: 'recaptcha', siteKey: 'k' }), /secret/);
    assert.throws(() => createCaptchaVerifier({ provider: 'hcaptcha', secret: 's', verifyUrl: 'file:///etc/passwd' }), /http/);
    assert.throws(() => createCaptchaVerifier({ provider: 'hcaptcha', secret: 's', verifyUrl: 'not a url' }), /http/);
    assert.throws(() => createCaptchaVerifier({ provider: 'friendlycaptcha' as CaptchaProvider, secret: 's' }), /unknown/);
  });
});

describe('captcha: fails closed', () => {
  test('a missing, empty, non-string or oversized token is refused without asking the provider', async () => {
    const captcha = verifier();
    for (const bad of [undefined, null, '', 42, ['a'], { token: 'x' }]) {
      await assert.rejects(captcha.verify(bad), refused('CAPTCHA_FAILED', /missing-token/), JSON.stringify(bad));
    }
    await assert.rejects(captcha.verify('x'.repeat(4097)), refused('CAPTCHA_FAILED', /oversized-token/));
    assert.equal(requests.length, 0);
    // The longest accepted token does reach the provider.
    await captcha.verify('y'.repeat(4096));
    assert.equal(requests.length, 1);
  });

  test('success: false is refused, with the error codes as the reason', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: false, 'error-codes': ['invalid-input-response', 'timeout-or-duplicate'] }));
    await assert.rejects(verifier().verify(token()), refused('CAPTCHA_FAILED', /^rejected:invalid-input-response,timeout-or-duplicate$/));
  });

  test('only the boolean true is success: "true", 1, a missing field or a non-object answer are refused', async () => {
    for (const body of ['{"success":"true"}', '{"success":1}', '{}', '[true]', 'null', 'true', '{"Success":true}']) {
      answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      await assert.rejects(verifier().verify(token()), refused('CAPTCHA_FAILED', /rejected|bad-answer/), body);
    }
  });

  test('an answer that is not JSON, or too large, is refused', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
    await assert.rejects(verifier().verify(token()), refused('CAPTCHA_FAILED', /bad-answer/));
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`{"success":true,"pad":"${'x'.repeat(70_000)}"}`);
    await assert.rejects(verifier().verify(token()), refused('CAPTCHA_FAILED', /bad-answer/));
  });

  test('a non-200 answer is refused: 4xx and redirects as failed, 5xx as unavailable', async () => {
    for (const [status, code] of [
      [400, 'CAPTCHA_FAILED'],
      [403, 'CAPTCHA_FAILED'],
      [404, 'CAPTCHA_FAILED'],
      [302, 'CAPTCHA_FAILED'],
      [500, 'CAPTCHA_UNAVAILABLE'],
      [503, 'CAPTCHA_UNAVAILABLE'],
    ] as const) {
      requests = [];
      // Even with a body that says success, and a redirect to an endpoint that would say it too.
      answer = (_req, res) => res.writeHead(status, { 'content-type': 'application/json', location: `${base}/siteverify` }).end('{"success":true}');
      await assert.rejects(verifier().verify(token()), refused(code, new RegExp(`http-${status}`)), String(status));
      assert.equal(requests.length, 1, `the redirect is not followed (${status})`);
    }
  });

  test('a siteverify that does not answer in time is unavailable (the request is refused)', async () => {
    answer = () => {}; // never answers
    await assert.rejects(verifier({ timeoutMs: 200 }).verify(token()), refused('CAPTCHA_UNAVAILABLE', /^timeout$/));
    server.closeAllConnections();
  });

  test('a siteverify that cannot be reached is unavailable (the request is refused)', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/siteverify`;
    await assert.rejects(verifier({ verifyUrl: closed }).verify(token()), refused('CAPTCHA_UNAVAILABLE', /^unreachable$/));
  });
});

const replayStores: { name: string; options(): Promise<Partial<CaptchaOptions>> }[] = [{ name: 'memory', options: async () => ({}) }];
let redis: RedisClient | undefined;
const PREFIX = `gatehouse:test:captcha:${randomBytes(6).toString('hex')}:`;
if (TEST_REDIS_URL) {
  replayStores.push({
    name: 'redis',
    async options() {
      redis ??= await openRedis({ url: TEST_REDIS_URL! });
      return { redis, prefix: PREFIX };
    },
  });
}
after(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

for (const store of replayStores) {
  describe(`captcha: a token is accepted once (${store.name})`, () => {
    test('a reused token is refused even though the provider would accept it again', async () => {
      const captcha = verifier(await store.options());
      const t = token();
      await captcha.verify(t, '198.51.100.1');
      await assert.rejects(captcha.verify(t, '198.51.100.1'), refused('CAPTCHA_FAILED', /reused-token/));
      // A second verifier (another process) shares the memory only through Redis.
      if (store.name === 'redis') await assert.rejects(verifier(await store.options()).verify(t), refused('CAPTCHA_FAILED', /reused-token/));
      assert.equal(requests.length, 1, 'a reused token never reaches the provider');
      await captcha.verify(token());
    });

    test('ten requests racing with one token: exactly one passes', async () => {
      const captcha = verifier(await store.options());
      const t = token();
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => captcha.verify(t)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') refused('CAPTCHA_FAILED', /reused-token/)(r.reason);
    });

    test('a token the provider refused is not remembered as accepted', async () => {
      const captcha = verifier(await store.options());
      const t = token();
      answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":false,"error-codes":["internal-error"]}');
      await assert.rejects(captcha.verify(t), refused('CAPTCHA_FAILED', /rejected/));
      answer = (_req, res) => ok(res);
      await captcha.verify(t);
    });
  });
}

describe('captcha: the replay memory', () => {
  test('in memory, an accepted token is forgotten after the replay window (the provider then judges it)', async () => {
    let now = 1_000_000;
    const captcha = verifier({ replaySeconds: 600, now: () => now });
    const t = token();
    await captcha.verify(t);
    now += 599_000;
    await assert.rejects(captcha.verify(t), refused('CAPTCHA_FAILED', /reused-token/));
    now += 1_000;
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":false,"error-codes":["timeout-or-duplicate"]}');
    await assert.rejects(captcha.verify(t), refused('CAPTCHA_FAILED', /timeout-or-duplicate/));
    assert.equal(requests.length, 2);
  });

  test('a Redis that does not answer makes the check unavailable, never a pass', async () => {
    const port = await freePort();
    const down = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => {});
    try {
      await assert.rejects(verifier({ redis: down, prefix: PREFIX }).verify(token()), refused('CAPTCHA_UNAVAILABLE', /replay-store/));
      assert.equal(requests.length, 0);
    } finally {
      down.disconnect();
    }
  });
});
