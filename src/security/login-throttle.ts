import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import { normalizeEmail } from '../identifiers.ts';
import { UnavailableError } from '../errors.ts';
import { sha256 } from '../crypto/secret-box.ts';

/**
 * Brute-force protection of password logins (ASVS 5 V6.3.1; NIST SP 800-63B-4 §3.2.2, rate
 * limiting): failures are counted per account and per client IP; after a few the next attempt
 * waits (progressive delay) and needs a captcha, and after more the account (or the IP) is
 * locked for a while. Thresholds live in `config/defaults.ts` (`throttle`).
 *
 * Parallel attempts must not slip past the limit, so an attempt is counted when it is admitted,
 * not when its password turns out wrong: `check` atomically takes a slot and counts it as a
 * failure in advance; `recordSuccess` gives it back (and clears the account's count),
 * `release` gives it back when the password was never checked (a refused captcha), and
 * `recordFailure` confirms it and sets the lock when the limit is reached. Twenty requests
 * fired at once therefore get exactly `lockAfter` password checks, not twenty.
 *
 * Redis (REDIS_URL) makes the counts shared by every process, each step one Lua script; the
 * memory store is for a single development process. A store that does not answer is a 503,
 * never an open door.
 */

/** One scope's limits (the account, or the client IP). */
export interface ThrottleLimits {
  /** Failures are counted for this long from the first one. */
  windowSeconds: number;
  /** After this many failures in the window, the next attempt needs a captcha. */
  captchaAfter: number;
  /** This many failures in the window lock the scope... */
  lockAfter: number;
  /** ...for this long; the count starts afresh when the lock ends. */
  lockSeconds: number;
}

export interface ThrottleConfig {
  account: ThrottleLimits;
  ip: ThrottleLimits;
  /** Progressive delay before the password check: `baseMs` after one account failure, doubling with each, at most `maxMs`. */
  delay: { baseMs: number; maxMs: number };
}

/** What the login route does with this attempt. */
export interface ThrottleVerdict {
  /** Refuse without checking the password, answering exactly as for a wrong one (no hint). */
  locked: boolean;
  /** Verify a captcha before checking the password (advisory when CAPTCHA_PROVIDER=none). */
  captchaRequired: boolean;
  /** Wait this long before checking the password. */
  delayMs: number;
  /** When locked: the lock ends in about this many seconds (for logs; do not tell the user, it confirms the account). */
  retryAfterSeconds?: number;
}

/** The counts as they stand, as the next attempt would see them (`peek`). */
export interface ThrottleState extends ThrottleVerdict {
  accountFailures: number;
  ipFailures: number;
}

/** What a confirmed failure did. */
export interface FailureOutcome {
  accountFailures: number;
  ipFailures: number;
  /** The account, or the IP, is locked now. */
  locked: boolean;
  /** This very failure set the lock: record an ACCOUNT_LOCKED security event once. */
  lockedNow: { account: boolean; ip: boolean };
  retryAfterSeconds?: number;
}

export interface LoginThrottle {
  /**
   * Call once per login attempt, before the password check. Admits the attempt (counting it as
   * a failure until told otherwise) or refuses it as locked. Every admitted attempt must end in
   * exactly one of `recordSuccess`, `recordFailure` or `release`; one that ends in none stays
   * counted as a failure.
   */
  check(login: string, ip: string | undefined): Promise<ThrottleVerdict>;
  /** The password was wrong, or the account unknown or disabled: confirm the failure (and lock at the limit). */
  recordFailure(login: string, ip: string | undefined): Promise<FailureOutcome>;
  /** The password was right: the account's failures are forgiven; the IP's count gives back this attempt only. */
  recordSuccess(login: string, ip: string | undefined): Promise<void>;
  /**
   * The password was never checked (a missing or refused captcha): give back this attempt's
   * slot. A bot that cannot pass the captcha thus cannot push an account into its lock.
   */
  release(login: string, ip: string | undefined): Promise<void>;
  /** The counts, read only: for tests and admin views, never to admit an attempt. */
  peek(login: string, ip: string | undefined): Promise<ThrottleState>;
}

export interface LoginThrottleDeps {
  /** Shared counts for every process; without it, counts live in this process's memory. */
  redis?: Redis;
  /** Redis key prefix (`config.redisPrefix`); also keeps test runs apart. */
  prefix?: string;
  config: ThrottleConfig;
  /** The clock of the memory store (tests move it); Redis keeps its own time. */
  now?: () => number;
}

interface Keys {
  account: string;
  ip: string;
  accountLock: string;
  ipLock: string;
}

/** The numbers every store operation needs, in milliseconds. */
interface Limits {
  accountWindowMs: number;
  ipWindowMs: number;
  accountLockAfter: number;
  ipLockAfter: number;
  accountLockMs: number;
  ipLockMs: number;
}

type Reserved = { admitted: true; accountFailures: number; ipFailures: number } | { admitted: false; retryMs: number };

interface Counts {
  accountFailures: number;
  ipFailures: number;
  lockMs: number;
}

interface Store {
  reserve(keys: Keys, limits: Limits): Promise<Reserved>;
  fail(keys: Keys, limits: Limits): Promise<Counts & { lockedNowAccount: boolean; lockedNowIp: boolean }>;
  succeed(keys: Keys): Promise<void>;
  release(keys: Keys): Promise<void>;
  peek(keys: Keys): Promise<Counts>;
}

/**
 * The client IP as a throttling key. IPv6 addresses are grouped by /64, because one subscriber
 * usually holds a whole /64 and could otherwise take a fresh address for every attempt;
 * IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
 */
export function clientIpKey(ip: string | undefined): string {
  let value = (ip ?? '').trim().toLowerCase();
  const zone = value.indexOf('%');
  if (zone >= 0) value = value.slice(0, zone);
  if (value.startsWith('::ffff:') && isIPv4(value.slice(7))) return value.slice(7);
  if (isIPv4(value)) return value;
  if (isIPv6(value)) return `${ipv6Prefix64(value)}::/64`;
  // Not an address (Fastify always gives one): one shared bucket, so it cannot dodge the count.
  return 'unknown';
}

function ipv6Prefix64(address: string): string {
  const groups = (part: string) => (part ? part.split(':') : []);
  const width = (parts: string[]) => parts.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const [head = '', tail] = address.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const zeros = tail === undefined ? 0 : 8 - width(h) - width(t);
  const all = [...h, ...Array<string>(Math.max(0, zeros)).fill('0'), ...t];
  return all
    .slice(0, 4)
    .map((g) => (g.includes('.') ? '0' : Number.parseInt(g, 16).toString(16)))
    .join(':');
}

function keysFor(prefix: string, login: string, ip: string | undefined): Keys {
  // The login is hashed: Redis holds no e-mail addresses. normalizeEmail is the canonical form
  // of e-mail addresses and usernames alike (NFKC, trimmed, lower case).
  const account = sha256(normalizeEmail(String(login)));
  const client = clientIpKey(ip);
  return {
    account: `${prefix}throttle:account:${account}`,
    ip: `${prefix}throttle:ip:${client}`,
    accountLock: `${prefix}throttle:lock:account:${account}`,
    ipLock: `${prefix}throttle:lock:ip:${client}`,
  };
}

// KEYS: account count, IP count, account lock, IP lock.
// ARGV: account window ms, IP window ms, account lockAfter, IP lockAfter, account lock ms, IP lock ms.
// A lock refuses outright. Otherwise the attempt is counted on both scopes (the window starts at
// the first count: PEXPIRE NX); if that puts either past its limit (attempts still in flight
// will lock it), the count is taken back and the attempt refused.
const RESERVE = `
local la = redis.call('pttl', KEYS[3])
local li = redis.call('pttl', KEYS[4])
if la > 0 or li > 0 then return {0, math.max(la, li)} end
local a = redis.call('incr', KEYS[1])
redis.call('pexpire', KEYS[1], ARGV[1], 'NX')
local i = redis.call('incr', KEYS[2])
redis.call('pexpire', KEYS[2], ARGV[2], 'NX')
local overA = a > tonumber(ARGV[3])
local overI = i > tonumber(ARGV[4])
if overA or overI then
  redis.call('decr', KEYS[1])
  redis.call('decr', KEYS[2])
  local retry = 0
  if overA then retry = tonumber(ARGV[5]) end
  if overI then retry = math.max(retry, tonumber(ARGV[6])) end
  return {0, retry}
end
return {1, a, i}`;

// KEYS as above. ARGV: account lockAfter, IP lockAfter, account lock ms, IP lock ms.
// The failure was counted by RESERVE; at the limit the lock is set once (NX), and the count
// lives exactly as long as the lock, so the count starts afresh when the lock ends.
const FAIL = `
local a = tonumber(redis.call('get', KEYS[1]) or '0')
local i = tonumber(redis.call('get', KEYS[2]) or '0')
local nowA = 0
local nowI = 0
if a >= tonumber(ARGV[1]) and redis.call('set', KEYS[3], '1', 'PX', ARGV[3], 'NX') then
  nowA = 1
  redis.call('pexpire', KEYS[1], ARGV[3])
end
if i >= tonumber(ARGV[2]) and redis.call('set', KEYS[4], '1', 'PX', ARGV[4], 'NX') then
  nowI = 1
  redis.call('pexpire', KEYS[2], ARGV[4])
end
return {a, i, nowA, nowI, math.max(redis.call('pttl', KEYS[3]), redis.call('pttl', KEYS[4]))}`;

// KEYS: account count, IP count, account lock. A right password forgives the account's
// failures (and a lock set meanwhile by attempts that were in flight with it). The IP gives back
// this one attempt only: resetting it would let an attacker clear the IP's count by signing in
// to an account of their own between guesses.
const SUCCEED = `
redis.call('del', KEYS[1], KEYS[3])
if tonumber(redis.call('get', KEYS[2]) or '0') > 0 then redis.call('decr', KEYS[2]) end
return 1`;

// KEYS: account count, IP count.
const RELEASE = `
if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then redis.call('decr', KEYS[1]) end
if tonumber(redis.call('get', KEYS[2]) or '0') > 0 then redis.call('decr', KEYS[2]) end
return 1`;

// KEYS as RESERVE.
const PEEK = `
return {tonumber(redis.call('get', KEYS[1]) or '0'), tonumber(redis.call('get', KEYS[2]) or '0'),
  math.max(redis.call('pttl', KEYS[3]), redis.call('pttl', KEYS[4]))}`;

function redisStore(redis: Redis): Store {
  const run = async (script: string, keys: string[], args: number[] = []) =>
    (await redis.eval(script, keys.length, ...keys, ...args.map(String))) as number[];
  const all = (k: Keys) => [k.account, k.ip, k.accountLock, k.ipLock];
  return {
    async reserve(k, l) {
      const r = await run(RESERVE, all(k), [l.accountWindowMs, l.ipWindowMs, l.accountLockAfter, l.ipLockAfter, l.accountLockMs, l.ipLockMs]);
      return r[0] === 1 ? { admitted: true, accountFailures: r[1]!, ipFailures: r[2]! } : { admitted: false, retryMs: r[1]! };
    },
    async fail(k, l) {
      const [a, i, nowA, nowI, lockMs] = await run(FAIL, all(k), [l.accountLockAfter, l.ipLockAfter, l.accountLockMs, l.ipLockMs]);
      return { accountFailures: a!, ipFailures: i!, lockedNowAccount: nowA === 1, lockedNowIp: nowI === 1, lockMs: lockMs! };
    },
    async succeed(k) {
      await run(SUCCEED, [k.account, k.ip, k.accountLock]);
    },
    async release(k) {
      await run(RELEASE, [k.account, k.ip]);
    },
    async peek(k) {
      const [a, i, lockMs] = await run(PEEK, all(k));
      return { accountFailures: a!, ipFailures: i!, lockMs: lockMs! };
    },
  };
}

/**
 * The same steps over a Map, for one process: each runs without an `await` inside, which makes
 * it atomic on Node's single thread. Entries expire like Redis keys (by the injected clock)
 * and are swept now and then so abandoned ones do not pile up.
 */
function memoryStore(now: () => number): Store {
  const entries = new Map<string, { n: number; expiresAt: number }>();
  let operations = 0;
  const sweep = () => {
    if (++operations % 1000 !== 0) return;
    const t = now();
    for (const [key, e] of entries) if (e.expiresAt <= t) entries.delete(key);
  };
  const live = (key: string) => {
    const e = entries.get(key);
    if (e && e.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };
  const get = (key: string) => live(key)?.n ?? 0;
  const pttl = (key: string) => {
    const e = live(key);
    return e ? e.expiresAt - now() : -2;
  };
  const incr = (key: string, windowMs: number) => {
    const e = live(key);
    if (e) return ++e.n;
    entries.set(key, { n: 1, expiresAt: now() + windowMs });
    return 1;
  };
  const decr = (key: string) => {
    const e = live(key);
    if (e && e.n > 0) e.n--;
  };
  const lock = (key: string, countKey: string, lockMs: number) => {
    if (live(key)) return false;
    entries.set(key, { n: 1, expiresAt: now() + lockMs });
    const count = live(countKey);
    if (count) count.expiresAt = now() + lockMs;
    return true;
  };
  return {
    async reserve(k, l) {
      sweep();
      const lockMs = Math.max(pttl(k.accountLock), pttl(k.ipLock));
      if (lockMs > 0) return { admitted: false, retryMs: lockMs };
      const a = incr(k.account, l.accountWindowMs);
      const i = incr(k.ip, l.ipWindowMs);
      const overA = a > l.accountLockAfter;
      const overI = i > l.ipLockAfter;
      if (overA || overI) {
        decr(k.account);
        decr(k.ip);
        return { admitted: false, retryMs: Math.max(overA ? l.accountLockMs : 0, overI ? l.ipLockMs : 0) };
      }
      return { admitted: true, accountFailures: a, ipFailures: i };
    },
    async fail(k, l) {
      const a = get(k.account);
      const i = get(k.ip);
      const lockedNowAccount = a >= l.accountLockAfter && lock(k.accountLock, k.account, l.accountLockMs);
      const lockedNowIp = i >= l.ipLockAfter && lock(k.ipLock, k.ip, l.ipLockMs);
      return { accountFailures: a, ipFailures: i, lockedNowAccount, lockedNowIp, lockMs: Math.max(pttl(k.accountLock), pttl(k.ipLock)) };
    },
    async succeed(k) {
      entries.delete(k.account);
      entries.delete(k.accountLock);
      decr(k.ip);
    },
    async release(k) {
      decr(k.account);
      decr(k.ip);
    },
    async peek(k) {
      return { accountFailures: get(k.account), ipFailures: get(k.ip), lockMs: Math.max(pttl(k.accountLock), pttl(k.ipLock)) };
    },
  };
}

function validate(config: ThrottleConfig): void {
  for (const scope of ['account', 'ip'] as const) {
    const l = config[scope];
    for (const name of ['windowSeconds', 'lockSeconds'] as const) {
      if (!(l[name] > 0)) throw new Error(`throttle.${scope}.${name} must be a positive number of seconds`);
    }
    for (const name of ['captchaAfter', 'lockAfter'] as const) {
      if (!Number.isInteger(l[name]) || l[name] < 0) throw new Error(`throttle.${scope}.${name} must be a whole number`);
    }
    if (l.lockAfter < 1) throw new Error(`throttle.${scope}.lockAfter must be at least 1`);
  }
  if (!(config.delay.baseMs >= 0) || !(config.delay.maxMs >= config.delay.baseMs)) {
    throw new Error('throttle.delay needs 0 <= baseMs <= maxMs');
  }
}

/**
 * Creates the login throttle. Give it the shared Redis client when REDIS_URL is set (each
 * process then sees the same counts) and `config.throttle`.
 *
 * A login route uses it like this (a locked account answers exactly like a wrong password):
 *
 * ```ts
 * const verdict = await throttle.check(login, request.ip);
 * if (verdict.locked) throw new InvalidCredentialsError();
 * if (verdict.captchaRequired && captcha.enabled) {
 *   try { await captcha.verify(captcha.tokenFrom(body), request.ip); }
 *   catch (err) { await throttle.release(login, request.ip); throw err; }
 * }
 * await sleep(verdict.delayMs);
 * try {
 *   account = await accounts.authenticate(login, password);
 * } catch (err) {
 *   if (err instanceof InvalidCredentialsError) await throttle.recordFailure(login, request.ip);
 *   if (err instanceof EmailNotVerifiedError) await throttle.recordSuccess(login, request.ip); // the password was right
 *   throw err;
 * }
 * await throttle.recordSuccess(login, request.ip);
 * ```
 */
export function createLoginThrottle({ redis, prefix = 'gatehouse:', config, now = Date.now }: LoginThrottleDeps): LoginThrottle {
  validate(config);
  const store = redis ? redisStore(redis) : memoryStore(now);
  const limits: Limits = {
    accountWindowMs: Math.ceil(config.account.windowSeconds * 1000),
    ipWindowMs: Math.ceil(config.ip.windowSeconds * 1000),
    accountLockAfter: config.account.lockAfter,
    ipLockAfter: config.ip.lockAfter,
    accountLockMs: Math.ceil(config.account.lockSeconds * 1000),
    ipLockMs: Math.ceil(config.ip.lockSeconds * 1000),
  };

  // Fail closed: without its counts the throttle cannot tell an attack from a user, so the
  // attempt is refused with a 503 rather than let through uncounted.
  async function guarded<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      throw Object.assign(new UnavailableError('Sign-in'), { cause: err });
    }
  }

  const delayFor = (priorFailures: number) =>
    priorFailures < 1 ? 0 : Math.min(config.delay.maxMs, config.delay.baseMs * 2 ** Math.min(priorFailures - 1, 30));

  // Counts that include this attempt become "failures before it" by taking one off.
  const verdictFrom = (priorAccount: number, priorIp: number): ThrottleVerdict => ({
    locked: false,
    captchaRequired: priorAccount >= config.account.captchaAfter || priorIp >= config.ip.captchaAfter,
    delayMs: delayFor(priorAccount),
  });

  const lockedVerdict = (lockMs: number): ThrottleVerdict => ({
    locked: true,
    captchaRequired: false,
    delayMs: 0,
    retryAfterSeconds: Math.max(1, Math.ceil(lockMs / 1000)),
  });

  return {
    async check(login, ip) {
      const r = await guarded(() => store.reserve(keysFor(prefix, login, ip), limits));
      return r.admitted ? verdictFrom(r.accountFailures - 1, r.ipFailures - 1) : lockedVerdict(r.retryMs);
    },
    async recordFailure(login, ip) {
      const r = await guarded(() => store.fail(keysFor(prefix, login, ip), limits));
      const locked = r.lockMs > 0;
      return {
        accountFailures: r.accountFailures,
        ipFailures: r.ipFailures,
        locked,
        lockedNow: { account: r.lockedNowAccount, ip: r.lockedNowIp },
        ...(locked ? { retryAfterSeconds: Math.max(1, Math.ceil(r.lockMs / 1000)) } : {}),
      };
    },
    async recordSuccess(login, ip) {
      await guarded(() => store.succeed(keysFor(prefix, login, ip)));
    },
    async release(login, ip) {
      await guarded(() => store.release(keysFor(prefix, login, ip)));
    },
    async peek(login, ip) {
      const r = await guarded(() => store.peek(keysFor(prefix, login, ip)));
      const counts = { accountFailures: r.accountFailures, ipFailures: r.ipFailures };
      if (r.lockMs > 0) return { ...lockedVerdict(r.lockMs), ...counts };
      return { ...verdictFrom(r.accountFailures, r.ipFailures), ...counts };
    },
  };
}
