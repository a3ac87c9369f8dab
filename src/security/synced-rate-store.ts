import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { RedisClient } from '../redis.ts';

/**
 * A @fastify/rate-limit store that counts locally and keeps every instance's counts in Redis
 * (issue 9: the library's Redis store costs a Redis round trip on every limited request, ~6 %
 * of a token request's CPU). Neither @fastify/rate-limit nor rate-limiter-flexible offers this
 * mode (rate-limiter-flexible's insurance and in-memory block strategies still ask Redis per
 * request), hence this small store.
 *
 * - **Asked synchronously** (one Redis INCRBY per request, exactly the library's own counting)
 *   whenever a wrong answer would matter: a limit of at most SMALL_LIMIT a window (sign-in,
 *   registration and other page posts), the first request of a key on this instance (nothing
 *   is known of what the others counted), once the known count reaches LOCAL_SHARE of the
 *   limit, and while Redis is failing.
 * - **Otherwise local**: the request is counted in memory and answered at once; every
 *   SYNC_INTERVAL_MS the counts go to Redis in one INCRBY per key, and the total Redis answers
 *   (every instance's requests) becomes this instance's known count.
 *
 * Tolerance: the same limit holds across instances except for what other instances admitted
 * locally and have not yet written, at most SYNC_INTERVAL_MS of their traffic on that key, and
 * only while the key is below LOCAL_SHARE of its limit. From there on every instance asks
 * Redis each time, so the limit itself is exact to within those in-flight counts.
 *
 * Fails closed: a failed write marks the store failing, its counts stay pending, and every
 * request goes to Redis (and so fails, a 503) until a write succeeds again.
 */
export const SYNC_INTERVAL_MS = 100;
export const LOCAL_SHARE = 0.9;
export const SMALL_LIMIT = 100;

// INCRBY, and the window's expiry set by whoever starts it; returns the total and the time left.
const INCR_SCRIPT = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
return {total, ttl}`;

interface Count {
  /** The total Redis last answered for this key (every instance's requests). */
  known: number;
  /** Counted here, not yet written. */
  pending: number;
  /** When the window ends (ms since the epoch), as Redis or this instance started it. */
  windowEnd: number;
  timeWindow: number;
}

type Answer = (err: Error | null, result?: { current: number; ttl: number }) => void;
type Incr = (key: string, by: number, timeWindow: number) => Promise<[number, number]>;

/** What every route's store shares: the counts, the writer, and whether Redis is failing. */
class Counts {
  readonly map = new Map<string, Count>();
  failing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly incr: Incr;

  constructor(redis: RedisClient) {
    const r = redis as RedisClient & { gatehouseRateIncr?: (key: string, by: number, ttl: number) => Promise<[number, number]> };
    if (!r.gatehouseRateIncr) r.defineCommand('gatehouseRateIncr', { numberOfKeys: 1, lua: INCR_SCRIPT });
    this.incr = (key, by, timeWindow) => r.gatehouseRateIncr!(key, by, timeWindow);
  }

  /** One request for `key`: answered locally or after asking Redis (see above). */
  hit(key: string, timeWindow: number, max: number, answer: Answer) {
    const now = Date.now();
    let count = this.map.get(key);
    if (count && count.windowEnd <= now && count.pending === 0) {
      this.map.delete(key);
      count = undefined;
    }
    const local = count !== undefined && !this.failing && max > SMALL_LIMIT && count.known + count.pending + 1 < max * LOCAL_SHARE;
    if (local) {
      count!.pending++;
      this.schedule();
      return answer(null, { current: count!.known + count!.pending, ttl: Math.max(0, count!.windowEnd - now) });
    }
    const by = 1 + (count?.pending ?? 0);
    if (count) count.pending = 0;
    this.incr(key, by, timeWindow).then(
      ([total, ttl]) => {
        this.failing = false;
        this.remember(key, total, ttl, timeWindow);
        answer(null, { current: total, ttl });
      },
      (err: Error) => {
        this.failing = true;
        // The failed request is not counted (it is refused); earlier ones stay pending.
        if (by > 1) this.addPending(key, by - 1, timeWindow);
        answer(err);
      },
    );
  }

  private remember(key: string, total: number, ttl: number, timeWindow: number) {
    const count = this.map.get(key);
    if (count) Object.assign(count, { known: total, windowEnd: Date.now() + ttl });
    else this.map.set(key, { known: total, pending: 0, windowEnd: Date.now() + ttl, timeWindow });
  }

  private addPending(key: string, n: number, timeWindow: number) {
    const count = this.map.get(key);
    if (count) count.pending += n;
    else this.map.set(key, { known: 0, pending: n, windowEnd: Date.now() + timeWindow, timeWindow });
    this.schedule();
  }

  private schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  /** Writes every pending count; the totals Redis answers become the known counts. */
  async flush() {
    const writes: Promise<void>[] = [];
    const now = Date.now();
    for (const [key, count] of this.map) {
      if (count.pending === 0) {
        if (count.windowEnd <= now) this.map.delete(key);
        continue;
      }
      const by = count.pending;
      count.pending = 0;
      writes.push(
        this.incr(key, by, count.timeWindow).then(
          ([total, ttl]) => {
            this.failing = false;
            // Requests counted while this write was out are still pending on top of it.
            Object.assign(count, { known: total, windowEnd: Date.now() + ttl });
          },
          () => {
            this.failing = true;
            count.pending += by;
            this.schedule();
          },
        ),
      );
    }
    await Promise.all(writes);
  }

  close() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * The store, in the shape @fastify/rate-limit calls (`incr`, `child` per route). Built with
 * `createSyncedStore(redis, prefix)`, passed as the plugin's `store` option.
 */
export function createSyncedStore(redis: RedisClient, prefix: string) {
  const counts = new Counts(redis);
  const store = (keyPrefix: string): FastifyRateLimitStore => ({
    incr(key, answer, timeWindow, max) {
      counts.hit(`${keyPrefix}${key}`, timeWindow, max, answer);
    },
    // One key space per route, as the library's own stores do.
    child(routeOptions) {
      const { routeInfo } = routeOptions as unknown as { routeInfo: { method: string; url: string } };
      return store(`${prefix}${routeInfo.method}${routeInfo.url}-`);
    },
  });
  // The plugin constructs `new Store(globalParams)`: a constructor returning the root store.
  const Store = function () {
    return store(prefix);
  } as unknown as FastifyRateLimitStoreCtor;
  return { Store, flush: () => counts.flush(), close: () => counts.close() };
}
