import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { AppError } from '../../src/errors.ts';
import { openRedis, type RedisClient } from '../../src/redis.ts';
import { clientIpKey, createLoginThrottle, type LoginThrottle, type ThrottleConfig } from '../../src/security/login-throttle.ts';
import { defaults } from '../../config/defaults.ts';
import { freePort, TEST_REDIS_URL } from '../helpers/server.ts';

// The original server's thresholds for the account; the IP's are small enough to reach in a test.
const CONFIG: ThrottleConfig = {
  account: { windowSeconds: 300, captchaAfter: 3, lockAfter: 5, lockSeconds: 900 },
  ip: { windowSeconds: 300, captchaAfter: 6, lockAfter: 10, lockSeconds: 600 },
  delay: { baseMs: 500, maxMs: 8000 },
};

const PREFIX = `gatehouse:test:throttle:${randomBytes(6).toString('hex')}:`;
let n = 0;
/** A login and an IP of their own for each test, so tests share no counts. */
const fresh = () => {
  n += 1;
  return { login: `user${n}-${randomBytes(3).toString('hex')}@example.com`, ip: `10.${n % 250}.${(n * 7) % 250}.${(n * 13) % 250 + 1}` };
};

interface Store {
  name: string;
  make(config?: ThrottleConfig): LoginThrottle;
}

const stores: Store[] = [{ name: 'memory', make: (config = CONFIG) => createLoginThrottle({ config }) }];

let redis: RedisClient | undefined;
if (TEST_REDIS_URL) {
  redis = await openRedis({ url: TEST_REDIS_URL });
  stores.push({ name: 'redis', make: (config = CONFIG) => createLoginThrottle({ redis, prefix: PREFIX, config }) });
}

after(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

/** One login attempt as the route makes it, with a wrong password. */
async function failedAttempt(throttle: LoginThrottle, login: string, ip: string) {
  const verdict = await throttle.check(login, ip);
  if (verdict.locked) return { verdict };
  return { verdict, outcome: await throttle.recordFailure(login, ip) };
}

for (const store of stores) {
  describe(`login throttle: ${store.name}`, () => {
    test('a fresh login is admitted without delay or captcha', async () => {
      const throttle = store.make();
      const { login, ip } = fresh();
      assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
      await throttle.recordSuccess(login, ip);
      const state = await throttle.peek(login, ip);
      assert.equal(state.accountFailures, 0);
      assert.equal(state.ipFailures, 0);
    });

    test('the original thresholds: delay grows, captcha after 3 failures, the 5th locks for 15 minutes', async (context) => {
      const throttle = store.make();
      const { login, ip } = fresh();
      const seen = [];
      for (let attempt = 1; attempt <= 5; attempt++) {
        const { verdict, outcome } = await failedAttempt(throttle, login, ip);
        seen.push({ delayMs: verdict.delayMs, captcha: verdict.captchaRequired, locked: verdict.locked, lockedNow: outcome?.lockedNow.account });
      }
      assert.deepEqual(seen, [
        { delayMs: 0, captcha: false, locked: false, lockedNow: false },
        { delayMs: 500, captcha: false, locked: false, lockedNow: false },
        { delayMs: 1000, captcha: false, locked: false, lockedNow: false },
        { delayMs: 2000, captcha: true, locked: false, lockedNow: false },
        { delayMs: 4000, captcha: true, locked: false, lockedNow: true },
      ]);
      const sixth = await throttle.check(login, ip);
      assert.equal(sixth.locked, true);
      assert.equal(sixth.retryAfterSeconds, 900);
      // Locked from anywhere: the lock belongs to the account, not to the attacker's address.
      assert.equal((await throttle.check(login, '192.0.2.77')).locked, true);
      // The same address may still try another account (it is below the IP's limits).
      const other = await throttle.check(fresh().login, ip);
      assert.equal(other.locked, false);
      const state = await throttle.peek(login, ip);
      assert.equal(state.accountFailures, 5);
      assert.equal(state.locked, true);
    });

    test('the delay stops growing at its maximum', async () => {
      const config = { ...CONFIG, account: { ...CONFIG.account, captchaAfter: 100, lockAfter: 100 }, ip: { ...CONFIG.ip, lockAfter: 100 } };
      const throttle = store.make(config);
      const { login, ip } = fresh();
      const delays = [];
      for (let i = 0; i < 8; i++) delays.push((await failedAttempt(throttle, login, ip)).verdict.delayMs);
      assert.deepEqual(delays, [0, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    });

    test('the login is canonical: case, spaces and NFKC spellings are one account', async () => {
      const throttle = store.make();
      const { ip } = fresh();
      const tag = randomBytes(3).toString('hex');
      for (const spelling of [`Jane${tag}@Example.com`, ` jane${tag}@example.com `, `ｊａｎｅ${tag}@example.com`]) {
        await failedAttempt(throttle, spelling, ip);
      }
      assert.equal((await throttle.peek(`jane${tag}@example.com`, ip)).accountFailures, 3);
      assert.equal((await throttle.check(`JANE${tag}@EXAMPLE.COM`, ip)).captchaRequired, true);
    });

    test("success forgives the account's failures but gives back only its own attempt to the IP", async () => {
      const throttle = store.make();
      const { login, ip } = fresh();
      await failedAttempt(throttle, login, ip);
      await failedAttempt(throttle, login, ip);
      const verdict = await throttle.check(login, ip);
      assert.equal(verdict.delayMs, 1000);
      await throttle.recordSuccess(login, ip);
      const state = await throttle.peek(login, ip);
      assert.equal(state.accountFailures, 0);
      assert.equal(state.ipFailures, 2);
      assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
    });

    test('per IP: failures spread over many accounts need a captcha, then lock the IP; other IPs go on', async () => {
      const throttle = store.make();
      const { ip } = fresh();
      const captchas = [];
      let lockedNow = 0;
      for (let i = 1; i <= 10; i++) {
        const { verdict, outcome } = await failedAttempt(throttle, fresh().login, ip);
        assert.equal(verdict.locked, false);
        captchas.push(verdict.captchaRequired);
        if (outcome?.lockedNow.ip) lockedNow = i;
        assert.equal(outcome?.lockedNow.account, false);
      }
      assert.deepEqual(captchas, [false, false, false, false, false, false, true, true, true, true]);
      assert.equal(lockedNow, 10);
      const next = fresh().login;
      const refused = await throttle.check(next, ip);
      assert.equal(refused.locked, true);
      assert.equal(refused.retryAfterSeconds, 600);
      assert.deepEqual(await throttle.check(next, '198.51.100.20'), { locked: false, captchaRequired: false, delayMs: 0 });
    });

    test('release: an attempt whose captcha was refused gives back its slot, so a bot cannot lock the account', async () => {
      const throttle = store.make();
      const { login, ip } = fresh();
      for (let i = 0; i < 3; i++) await failedAttempt(throttle, login, ip);
      for (let i = 0; i < 20; i++) {
        const verdict = await throttle.check(login, `203.0.113.${i + 1}`);
        assert.equal(verdict.locked, false);
        assert.equal(verdict.captchaRequired, true);
        await throttle.release(login, `203.0.113.${i + 1}`);
      }
      const state = await throttle.peek(login, ip);
      assert.equal(state.accountFailures, 3);
      assert.equal(state.locked, false);
      assert.equal((await throttle.peek(login, '203.0.113.1')).ipFailures, 0);
    });

    test('twenty parallel attempts on one account: exactly lockAfter password checks, one lock, and it holds', async () => {
      const throttle = store.make();
      const { login, ip } = fresh();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => failedAttempt(throttle, login, `${ip.split('.').slice(0, 3).join('.')}.${i}`)));
      const admitted = results.filter((r) => !r.verdict.locked);
      assert.equal(admitted.length, 5);
      assert.equal(results.filter((r) => r.outcome?.lockedNow.account).length, 1);
      const state = await throttle.peek(login, ip);
      assert.equal(state.accountFailures, 5);
      assert.equal(state.locked, true);
      assert.equal((await throttle.check(login, ip)).locked, true);
    });

    test('twenty parallel attempts from one IP on twenty accounts: exactly the IP limit gets through', async () => {
      const throttle = store.make();
      const { ip } = fresh();
      const logins = Array.from({ length: 20 }, () => fresh().login);
      const results = await Promise.all(logins.map((login) => failedAttempt(throttle, login, ip)));
      assert.equal(results.filter((r) => !r.verdict.locked).length, 10);
      assert.equal(results.filter((r) => r.outcome?.lockedNow.ip).length, 1);
      const state = await throttle.peek(fresh().login, ip);
      assert.equal(state.ipFailures, 10);
      assert.equal(state.locked, true);
    });

    test('parallel successes and failures from one IP leave the exact count of failures', async () => {
      const config = { ...CONFIG, ip: { ...CONFIG.ip, captchaAfter: 1000, lockAfter: 1000 } };
      const throttle = store.make(config);
      const { ip } = fresh();
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const login = fresh().login;
          await throttle.check(login, ip);
          if (i % 2) await throttle.recordSuccess(login, ip);
          else await throttle.recordFailure(login, ip);
        }),
      );
      assert.equal((await throttle.peek(fresh().login, ip)).ipFailures, 20);
    });

    test('an attempt refused while the limit was full of attempts in flight is not counted', async () => {
      const throttle = store.make();
      const { login, ip } = fresh();
      for (let i = 0; i < 5; i++) assert.equal((await throttle.check(login, ip)).locked, false);
      const refused = await throttle.check(login, ip);
      assert.equal(refused.locked, true);
      assert.equal(refused.retryAfterSeconds, 900, 'as long as the lock those attempts would set');
      for (let i = 0; i < 5; i++) await throttle.release(login, ip);
      const state = await throttle.peek(login, ip);
      assert.deepEqual([state.locked, state.accountFailures, state.ipFailures], [false, 0, 0]);
      const lockedNow = [];
      for (let i = 0; i < 5; i++) lockedNow.push((await failedAttempt(throttle, login, ip)).outcome?.lockedNow.account);
      assert.deepEqual(lockedNow, [false, false, false, false, true]);
    });

    test('a slot given back after a success cleared the account buys no extra guess', async () => {
      const throttle = store.make();
      const { login, ip } = fresh();
      await throttle.check(login, ip); // an attempt in flight...
      await throttle.check(login, '198.51.100.7');
      await throttle.recordSuccess(login, '198.51.100.7'); // ...while the owner signs in...
      await throttle.release(login, ip); // ...then has its captcha refused
      assert.equal((await throttle.peek(login, ip)).accountFailures, 0);
      const admitted = [];
      for (let i = 0; i < 6; i++) admitted.push(!(await failedAttempt(throttle, login, ip)).verdict.locked);
      assert.deepEqual(admitted, [true, true, true, true, true, false], 'lockAfter guesses, not one more');
    });

    test('IPv6 addresses of one /64 share a count; IPv4-mapped addresses count as their IPv4 address', async () => {
      assert.equal(clientIpKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
      assert.equal(clientIpKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
      assert.equal(clientIpKey('2001:db8::1'), '2001:db8:0:0::/64');
      assert.equal(clientIpKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
      assert.equal(clientIpKey('::ffff:192.0.2.1'), '192.0.2.1');
      assert.equal(clientIpKey('192.0.2.1'), '192.0.2.1');
      assert.equal(clientIpKey(undefined), 'unknown');
      assert.equal(clientIpKey('not an ip'), 'unknown');

      const throttle = store.make();
      const net = `2001:db8:${randomBytes(2).toString('hex')}:7`;
      for (let i = 1; i <= 3; i++) await failedAttempt(throttle, fresh().login, `${net}::${i}`);
      assert.equal((await throttle.peek('anyone@example.com', `${net}:ffff:1:2:3`)).ipFailures, 3);
    });
  });
}

describe('login throttle: store down', () => {
  test('a store that does not answer refuses every step with 503 SERVICE_UNAVAILABLE, never admits', async () => {
    const port = await freePort();
    const down = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on('error', () => {});
    try {
      const throttle = createLoginThrottle({ redis: down, prefix: PREFIX, config: CONFIG });
      const { login, ip } = fresh();
      const unavailable = (err: unknown) => err instanceof AppError && err.code === 'SERVICE_UNAVAILABLE' && err.statusCode === 503;
      await assert.rejects(throttle.check(login, ip), unavailable);
      await assert.rejects(throttle.recordFailure(login, ip), unavailable);
      await assert.rejects(throttle.recordSuccess(login, ip), unavailable);
      await assert.rejects(throttle.release(login, ip), unavailable);
    } finally {
      down.disconnect();
    }
  });
});

describe('login throttle: expiry with an injected clock (memory)', () => {
  // rate-limiter-flexible's memory store reads Date.now() and expires keys with setTimeout:
  // node:test's mock timers move both, for this test only.
  const at = (t: TestContext) => {
    t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 1_800_000_000_000 });
    return { advance: (ms: number) => t.mock.timers.tick(ms) };
  };

  test('failures count for the window from the first one, then are forgotten', async (context) => {
    const t = at(context);
    const throttle = createLoginThrottle({ config: CONFIG });
    const { login, ip } = fresh();
    await failedAttempt(throttle, login, ip);
    t.advance(200_000);
    await failedAttempt(throttle, login, ip);
    t.advance(99_000);
    assert.equal((await throttle.peek(login, ip)).accountFailures, 2);
    t.advance(1_000);
    const state = await throttle.peek(login, ip);
    assert.equal(state.accountFailures, 0);
    assert.equal(state.ipFailures, 0);
    assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
  });

  test('the lock lasts lockSeconds, then the count starts afresh', async (context) => {
    const t = at(context);
    const throttle = createLoginThrottle({ config: CONFIG });
    const { login, ip } = fresh();
    for (let i = 0; i < 5; i++) await failedAttempt(throttle, login, ip);
    t.advance(899_000);
    const locked = await throttle.check(login, ip);
    assert.equal(locked.locked, true);
    assert.equal(locked.retryAfterSeconds, 1);
    t.advance(1_000);
    assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
  });

  test('the shipped defaults are the original server\'s: captcha after 3, lock after 5 for 15 minutes, in 5 minutes', async (context) => {
    assert.equal(defaults.throttle.account.captchaAfter, 3);
    assert.equal(defaults.throttle.account.lockAfter, 5);
    assert.equal(defaults.throttle.account.lockSeconds, 15 * 60);
    assert.equal(defaults.throttle.account.windowSeconds, 5 * 60);
    at(context);
    const throttle = createLoginThrottle({ config: defaults.throttle });
    const { login, ip } = fresh();
    const verdicts = [];
    for (let i = 0; i < 6; i++) verdicts.push((await failedAttempt(throttle, login, ip)).verdict);
    assert.deepEqual(verdicts.map((v) => [v.captchaRequired, v.locked]), [[false, false], [false, false], [false, false], [true, false], [true, false], [false, true]]);
  });

  test('a lock outlives the window of the failures that set it; a locked account counts as full', async (context) => {
    const t = at(context);
    const throttle = createLoginThrottle({ config: CONFIG });
    const { login, ip } = fresh();
    for (let i = 0; i < 4; i++) await failedAttempt(throttle, login, ip);
    t.advance(290_000);
    assert.equal((await failedAttempt(throttle, login, ip)).outcome?.lockedNow.account, true);
    t.advance(20_000); // the window of those failures has ended, the lock has not
    const state = await throttle.peek(login, ip);
    assert.equal(state.locked, true);
    assert.equal(state.accountFailures, 5);
    assert.equal((await throttle.check(login, ip)).retryAfterSeconds, 880);
    t.advance(880_000);
    assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
  });

  test('what the stores cannot keep is refused at creation: part seconds, a lock shorter than its window', () => {
    assert.throws(() => createLoginThrottle({ config: { ...CONFIG, account: { ...CONFIG.account, windowSeconds: 1.5 } } }), /windowSeconds/);
    assert.throws(() => createLoginThrottle({ config: { ...CONFIG, ip: { ...CONFIG.ip, lockSeconds: 60 } } }), /lockSeconds/);
  });

  test('a configuration that makes no sense is refused at creation', () => {
    assert.throws(() => createLoginThrottle({ config: { ...CONFIG, account: { ...CONFIG.account, lockAfter: 0 } } }), /lockAfter/);
    assert.throws(() => createLoginThrottle({ config: { ...CONFIG, ip: { ...CONFIG.ip, windowSeconds: 0 } } }), /windowSeconds/);
    assert.throws(() => createLoginThrottle({ config: { ...CONFIG, delay: { baseMs: 10, maxMs: 5 } } }), /delay/);
  });
});

if (TEST_REDIS_URL) {
  describe('login throttle: expiry in Redis (short windows)', () => {
    // Long enough for the two commands of one attempt to land inside the window on a busy
    // machine; the test waits for the keys to be gone rather than for a fixed time.
    const short = (lockAfter: number): ThrottleConfig => ({
      account: { windowSeconds: 1, captchaAfter: 1, lockAfter, lockSeconds: 1 },
      ip: { windowSeconds: 1, captchaAfter: 10, lockAfter: 10, lockSeconds: 1 },
      delay: { baseMs: 500, maxMs: 8000 },
    });
    const gone = async (pattern: string) => {
      for (let i = 0; i < 100 && (await redis!.keys(pattern)).length; i++) await sleep(50);
      assert.deepEqual(await redis!.keys(pattern), [], 'keys expire');
    };

    test('the window expires with its keys; the next attempt starts afresh', async () => {
      const prefix = `${PREFIX}window:`;
      const throttle = createLoginThrottle({ redis, prefix, config: short(10) });
      const { login, ip } = fresh();
      await failedAttempt(throttle, login, ip);
      const keys = await redis!.keys(`${prefix}*`);
      assert.equal(keys.length, 2);
      for (const key of keys) {
        // -1 would be a key without expiry; -2 (already gone) is fine on a slow machine.
        const ttl = await redis!.pttl(key);
        assert.ok(ttl !== -1 && ttl <= 1000, `${key} expires with the window (${ttl} ms)`);
      }
      await gone(`${prefix}*`);
      assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
    });

    test('the lock expires with its key, and the count with it', async () => {
      const prefix = `${PREFIX}lock:`;
      const throttle = createLoginThrottle({ redis, prefix, config: short(1) });
      const { login, ip } = fresh();
      const { outcome } = await failedAttempt(throttle, login, ip);
      assert.equal(outcome?.lockedNow.account, true);
      await gone(`${prefix}*`);
      assert.deepEqual(await throttle.check(login, ip), { locked: false, captchaRequired: false, delayMs: 0 });
    });

    test('Redis Cluster: the keys of one scope share a hash tag, so its count and lock sit in one slot', async () => {
      const prefix = `${PREFIX}slots:`;
      const config = { ...CONFIG, account: { ...CONFIG.account, lockAfter: 1 }, ip: { ...CONFIG.ip, lockAfter: 1 } };
      const throttle = createLoginThrottle({ redis, prefix, config });
      const { outcome } = await failedAttempt(throttle, 'slots@example.com', '192.0.2.10');
      assert.deepEqual(outcome?.lockedNow, { account: true, ip: true });
      // Redis Cluster specification, "Hash tags": only what lies between the first `{` and the
      // next `}` is hashed, when that is not empty.
      const tag = (key: string) => {
        const open = key.indexOf('{');
        const close = key.indexOf('}', open + 1);
        return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
      };
      const keys = await redis!.keys(`${prefix}*`);
      assert.equal(keys.length, 4, 'a count and a lock for the account and for the address');
      const slots = Map.groupBy(keys, tag);
      assert.deepEqual([...slots.keys()].map((t) => t.split(':')[0]).sort(), ['account', 'ip']);
      for (const [, together] of slots) assert.equal(together.length, 2);
      assert.ok(slots.has('ip:192.0.2.10'));
      for (const key of keys) assert.ok(key.startsWith(prefix), 'the configured prefix stays in front');
    });

    test('Redis holds no e-mail address: account keys are hashes', async () => {
      const prefix = `${PREFIX}keys:`;
      const throttle = createLoginThrottle({ redis, prefix, config: CONFIG });
      await failedAttempt(throttle, 'Someone.Secret@Example.com', '192.0.2.9');
      const keys = await redis!.keys(`${prefix}*`);
      assert.equal(keys.length, 2);
      for (const key of keys) assert.doesNotMatch(key.toLowerCase(), /someone|example/);
    });
  });
}
