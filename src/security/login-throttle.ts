import { isIPv4, isIPv6 } from 'node:net';
import type { RedisClient } from '../redis.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
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
 * not when its password turns out wrong: `check` takes a slot (an atomic consume on the
 * account and on the IP; one refused gives both back) and counts it as a failure in advance; `recordSuccess` gives it back (and clears the account's count),
 * `release` gives it back when the password was never checked (a refused captcha), and
 * `recordFailure` confirms it and sets the lock when the limit is reached. Twenty requests
 * fired at once therefore get exactly `lockAfter` password checks, not twenty.
 *
 * The counting is rate-limiter-flexible's: per scope a `count` limiter (points = lockAfter, the
 * window from the first point; `consume` is one atomic script in Redis, one synchronous step
 * in memory) and a `lock` limiter whose key exists while the scope is locked. Redis
 * (REDIS_URL) shares the counts between processes; memory is for one development process. A
 * store that does not answer is a 503, never an open door (hence no `insuranceLimiter`).
 *
 * What is written here although the library has something like it, and why:
 * - The lock is not the library's `blockDuration`: that blocks a key when the (lockAfter+1)th
 *   consume is refused, and this lock is set by the lockAfter-th *confirmed* failure (so the
 *   ACCOUNT_LOCKED event fires once, for the failure that locked, and a refused captcha never
 *   locks). The `lock` limiter has one point: its first consume wins, like SET NX.
 * - Not `RateLimiterUnion`: it takes one key for all its limiters (ours differ: account, IP)
 *   and keeps the points of a refused attempt, which here are given back.
 * - `giveBack` clamps at zero, which `reward` (a plain DECRBY) does not.
 * - The progressive delay is not `execEvenly` (which spreads allowed actions over the window):
 *   it grows with the account's failures; nor ExpressBruteFlexible, an Express middleware.
 *
 * Redis keys: `<prefix>throttle:count:{account:<sha256>}`, `<prefix>throttle:lock:{…}`, and
 * the same for `{ip:<address>}`. Every call here takes one key; the hash tag keeps a scope's
 * count and lock in one Redis Cluster slot for any that takes both (one DEL, a MULTI).
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
  /** Refuse without checking the password: "too many attempts" (unknown logins lock alike). */
  locked: boolean;
  /** Verify a captcha before checking the password (advisory when CAPTCHA_PROVIDER=none). */
  captchaRequired: boolean;
  /** Wait this long before checking the password. */
  delayMs: number;
  /** When locked: the lock ends in about this many seconds (said to the user: unknown logins lock alike). */
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
  redis?: RedisClient;
  /** Redis key prefix (`config.redisPrefix`); also keeps test runs apart. */
  prefix?: string;
  config: ThrottleConfig;
}

/** The account, or the client IP: `count` holds attempts admitted and not given back, `lock` exists while locked. */
type Scope = { limits: ThrottleLimits; count: RateLimiterAbstract; lock: RateLimiterAbstract };

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

/** The hash-tagged keys of an attempt's two scopes (Redis Cluster hashes only what is in `{}`). */
function keysFor(login: string, ip: string | undefined) {
  // The login is hashed: Redis holds no e-mail addresses. normalizeEmail is the canonical form
  // of e-mail addresses and usernames alike (NFKC, trimmed, lower case).
  return { account: `{account:${sha256(normalizeEmail(String(login)))}}`, ip: `{ip:${clientIpKey(ip)}}` };
}

function validate(config: ThrottleConfig): void {
  for (const scope of ['account', 'ip'] as const) {
    const l = config[scope];
    // Whole seconds: rate-limiter-flexible's Redis store sets expiry in seconds (EX).
    for (const name of ['windowSeconds', 'lockSeconds'] as const) {
      if (!Number.isInteger(l[name]) || l[name] < 1) throw new Error(`throttle.${scope}.${name} must be a positive whole number of seconds`);
    }
    for (const name of ['captchaAfter', 'lockAfter'] as const) {
      if (!Number.isInteger(l[name]) || l[name] < 0) throw new Error(`throttle.${scope}.${name} must be a whole number`);
    }
    if (l.lockAfter < 1) throw new Error(`throttle.${scope}.lockAfter must be at least 1`);
    // The count then ends no later than the lock, so it starts afresh when the lock ends.
    if (l.lockSeconds < l.windowSeconds) throw new Error(`throttle.${scope}.lockSeconds must be at least windowSeconds`);
  }
  if (!(config.delay.baseMs >= 0) || !(config.delay.maxMs >= config.delay.baseMs)) throw new Error('throttle.delay needs 0 <= baseMs <= maxMs');
}

// What a `get` found, if still live (the memory store may hold a just-expired key a moment).
const live = (res: RateLimiterRes | null) => (res && res.msBeforeNext > 0 ? res : undefined);
const msLeft = (res: RateLimiterRes | null) => live(res)?.msBeforeNext ?? 0;
/** A scope's failures as the verdicts see them: a locked scope counts as full. */
const failuresOf = (s: Scope, count: RateLimiterRes | null, lockMs: number) =>
  lockMs > 0 ? s.limits.lockAfter : Math.min(s.limits.lockAfter, Math.max(0, live(count)?.consumedPoints ?? 0));

/**
 * Gives back one point. A point given back after its key was reset (a success deleted it, or
 * the window ended) would leave -1 and admit one attempt too many, so a negative result is
 * undone at once; points taken meanwhile by others are kept, as additions commute.
 */
async function giveBack(limiter: RateLimiterAbstract, key: string): Promise<void> {
  const res = await limiter.reward(key);
  if (res.consumedPoints < 0) await limiter.penalty(key, -res.consumedPoints);
}

/** A consume whose refusal (a `RateLimiterRes`) is an answer rather than an error. */
const consume = (limiter: RateLimiterAbstract, key: string): Promise<{ ok: boolean; res: RateLimiterRes }> =>
  limiter.consume(key).then(
    (res) => ({ ok: true, res }),
    (err: unknown) => (err instanceof RateLimiterRes ? { ok: false, res: err } : Promise.reject(err)),
  );

/** Locks a full scope; `now` is true for the one caller that set the lock (the lock limiter has one point). */
async function lockIfFull(s: Scope, key: string): Promise<{ now: boolean; ms: number; count: RateLimiterRes | null }> {
  const count = await s.count.get(key);
  if ((live(count)?.consumedPoints ?? 0) < s.limits.lockAfter) return { now: false, ms: msLeft(await s.lock.get(key)), count };
  const { ok, res } = await consume(s.lock, key);
  return { now: ok, ms: res.msBeforeNext, count };
}

/**
 * Creates the login throttle from `config.throttle`, with the shared Redis client when REDIS_URL
 * is set. The password-login rule (`createPasswordLogin`) is its caller and shows the order of
 * the calls and the key it passes as `login` (the account's id, or the normalised login).
 */
export function createLoginThrottle({ redis, prefix = 'gatehouse:', config }: LoginThrottleDeps): LoginThrottle {
  validate(config);
  const limiter = (kind: string, points: number, duration: number): RateLimiterAbstract => {
    const options = { keyPrefix: `${prefix}throttle:${kind}`, points, duration };
    return redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);
  };
  const scope = (limits: ThrottleLimits): Scope => ({ limits, count: limiter('count', limits.lockAfter, limits.windowSeconds), lock: limiter('lock', 1, limits.lockSeconds) });
  const [account, ip] = [scope(config.account), scope(config.ip)];

  // Fail closed: without its counts the throttle cannot tell an attack from a user, so the
  // attempt is refused with a 503 rather than let through uncounted.
  const guarded = <T>(step: () => Promise<T>): Promise<T> =>
    Promise.resolve().then(step).catch((err: unknown) => {
      throw Object.assign(new UnavailableError('Sign-in'), { cause: err });
    });

  const delayFor = (priorFailures: number) =>
    priorFailures < 1 ? 0 : Math.min(config.delay.maxMs, config.delay.baseMs * 2 ** Math.min(priorFailures - 1, 30));

  const verdictFrom = (priorAccount: number, priorIp: number): ThrottleVerdict => ({
    locked: false,
    captchaRequired: priorAccount >= config.account.captchaAfter || priorIp >= config.ip.captchaAfter,
    delayMs: delayFor(priorAccount),
  });

  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  const lockedVerdict = (lockMs: number): ThrottleVerdict => ({ locked: true, captchaRequired: false, delayMs: 0, retryAfterSeconds: seconds(lockMs) });

  /** Takes a slot on both scopes, or none: a refused attempt gives back what it took. */
  async function admit(k: ReturnType<typeof keysFor>): Promise<ThrottleVerdict> {
    const locks = await Promise.all([account.lock.get(k.account), ip.lock.get(k.ip)]);
    if (locks.some((l) => msLeft(l) > 0)) return lockedVerdict(Math.max(...locks.map(msLeft)));
    const [a, i] = await Promise.allSettled([consume(account.count, k.account), consume(ip.count, k.ip)]);
    if (a.status === 'rejected' || i.status === 'rejected') {
      // The store failed half-way: give back what was taken (best effort), then fail closed.
      await Promise.allSettled([a.status === 'fulfilled' && giveBack(account.count, k.account), i.status === 'fulfilled' && giveBack(ip.count, k.ip)]);
      throw a.status === 'rejected' ? a.reason : (i as PromiseRejectedResult).reason;
    }
    if (!a.value.ok || !i.value.ok) {
      // Full with attempts still in flight (they will lock it): refused, as if locked already.
      await Promise.all([giveBack(account.count, k.account), giveBack(ip.count, k.ip)]);
      return lockedVerdict(1000 * Math.max(a.value.ok ? 0 : config.account.lockSeconds, i.value.ok ? 0 : config.ip.lockSeconds));
    }
    // Counts that include this attempt become "failures before it" by taking one off.
    return verdictFrom(a.value.res.consumedPoints - 1, i.value.res.consumedPoints - 1);
  }

  return {
    check: (login, address) => guarded(() => admit(keysFor(login, address))),
    recordFailure: (login, address) =>
      guarded(async () => {
        // The failure was counted by `check`; at the limit the lock is set, once.
        const k = keysFor(login, address);
        const [a, i] = await Promise.all([lockIfFull(account, k.account), lockIfFull(ip, k.ip)]);
        const lockMs = Math.max(a.ms, i.ms);
        return {
          accountFailures: failuresOf(account, a.count, a.ms),
          ipFailures: failuresOf(ip, i.count, i.ms),
          locked: lockMs > 0,
          lockedNow: { account: a.now, ip: i.now },
          ...(lockMs > 0 ? { retryAfterSeconds: seconds(lockMs) } : {}),
        };
      }),
    recordSuccess: (login, address) =>
      guarded(async () => {
        // A right password forgives the account's failures (and a lock set meanwhile by attempts
        // in flight with it). The IP gives back this attempt only: resetting it would let an
        // attacker clear the IP's count by signing in to an account of their own between guesses.
        const k = keysFor(login, address);
        await Promise.all([account.count.delete(k.account), account.lock.delete(k.account), giveBack(ip.count, k.ip)]);
      }),
    release: (login, address) =>
      guarded(async () => {
        const k = keysFor(login, address);
        await Promise.all([giveBack(account.count, k.account), giveBack(ip.count, k.ip)]);
      }),
    peek: (login, address) =>
      guarded(async () => {
        const k = keysFor(login, address);
        const [ca, ci, la, li] = await Promise.all([account.count.get(k.account), ip.count.get(k.ip), account.lock.get(k.account), ip.lock.get(k.ip)]);
        const counts = { accountFailures: failuresOf(account, ca, msLeft(la)), ipFailures: failuresOf(ip, ci, msLeft(li)) };
        const lockMs = Math.max(msLeft(la), msLeft(li));
        return { ...(lockMs > 0 ? lockedVerdict(lockMs) : verdictFrom(counts.accountFailures, counts.ipFailures)), ...counts };
      }),
  };
}
