import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { RedisClient } from '../redis.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { createClientRateKey, type ClientSecrets } from './client-rate-key.ts';
import { translate } from '../i18n/locale.ts';
import { createSyncedStore } from './synced-rate-store.ts';

export type RateLimits = Config['rateLimits'];

/**
 * Which requests each configured limit (`rateLimits` in config/defaults.ts, where the numbers
 * live) counts, and by what (ASVS V2.4, RFC 9700 §4.15). A path matches exactly or, with a
 * trailing `*`, by prefix. Brute force against one account is counted separately
 * (src/security/login-throttle.ts): this is about volume.
 */
export const LIMITED_ROUTES: { method: string; path: string; limit: keyof RateLimits; per: 'address' | 'client' }[] = [
  { method: 'POST', path: '/register', limit: 'register', per: 'address' },
  { method: 'POST', path: '/forgot-password', limit: 'forgotPassword', per: 'address' },
  { method: 'POST', path: '/reset-password', limit: 'resetPassword', per: 'address' },
  { method: 'POST', path: '/verify-email/resend', limit: 'verifyEmailResend', per: 'address' },
  { method: 'POST', path: '/resend-verification', limit: 'resendVerification', per: 'address' },
  { method: 'POST', path: '/session/login', limit: 'sessionLogin', per: 'address' },
  { method: 'POST', path: '/session/refresh', limit: 'sessionRefresh', per: 'address' },
  { method: 'POST', path: '/session/logout', limit: 'sessionLogout', per: 'address' },
  { method: 'GET', path: '/session/start', limit: 'sessionStart', per: 'address' },
  { method: 'POST', path: '/interaction/*', limit: 'interaction', per: 'address' },
  // Apps call these from their servers, one address for many users: see client-rate-key.ts.
  { method: 'POST', path: '/token', limit: 'token', per: 'client' },
  { method: 'POST', path: '/token/*', limit: 'introspectionRevocation', per: 'client' },
  { method: 'POST', path: '/reg', limit: 'clientRegistration', per: 'address' },
];

function ruleFor(method: string | string[], url: string) {
  const methods = Array.isArray(method) ? method : [method];
  return LIMITED_ROUTES.find(
    (r) => methods.includes(r.method) && (r.path.endsWith('*') ? url.startsWith(r.path.slice(0, -1)) && url !== r.path.slice(0, -2) : url === r.path),
  );
}

/**
 * The key of a per-address limit. `request.ip` is read from the socket, which a client that
 * hangs up early has already closed: then it is undefined and @fastify/rate-limit would throw
 * a TypeError (a 500). Such a request shares one bucket instead of dodging the count.
 */
export function addressRateKey(request: { ip?: string; socket?: { remoteAddress?: string } }): string {
  return request.ip ?? request.socket?.remoteAddress ?? 'unknown';
}

/** How long to wait, in the request's language (@fastify/rate-limit's own `after` is English). */
function waitText(ttlMs: number): string {
  return ttlMs >= 60_000 ? translate('time.minutes', { n: Math.round(ttlMs / 60_000) }) : translate('time.seconds', { n: Math.max(1, Math.round(ttlMs / 1000)) });
}

export class RateLimitedError extends AppError {
  constructor(ttlMs: number) {
    super('RATE_LIMITED', 429, translate('error.rate_limited_wait', { after: waitText(ttlMs) }));
    this.name = 'RateLimitedError';
  }
}

/**
 * Registers @fastify/rate-limit (counted locally and synchronised through Redis when Redis is
 * configured, so every instance shares the limits; memory otherwise) and attaches the configured limits to routes as they are added.
 * Call before any route is registered. When the Redis store fails the request fails (503),
 * never unlimited (`skipOnError: false`).
 */
export async function registerRateLimits(
  app: FastifyInstance,
  { redis, prefix, limits, clients, enabled = true }: { redis?: RedisClient; prefix: string; limits: RateLimits; clients: ClientSecrets; enabled?: boolean },
) {
  if (!enabled) return;
  const clientRateKey = createClientRateKey({ clients });
  app.addHook('onRoute', (route: RouteOptions) => {
    const rule = ruleFor(route.method, route.url ?? '');
    if (!rule) return;
    const limit = limits[rule.limit];
    // Per-client rules: an authenticated client (key `client:...`) gets its own, larger budget.
    const clientMax = 'clientMax' in limit ? limit.clientMax : limit.max;
    const max = rule.per === 'client' ? (_request: unknown, key: string) => (key.startsWith('client:') ? clientMax : limit.max) : limit.max;
    const rateLimit = { max, timeWindow: limit.windowSeconds * 1000, keyGenerator: rule.per === 'client' ? clientRateKey : addressRateKey };
    route.config = { ...(route.config as object), rateLimit } as RouteOptions['config'];
  });
  // With Redis: counted locally and synchronised with every instance (synced-rate-store.ts).
  const synced = redis ? createSyncedStore(redis, `${prefix}ratelimit:`) : undefined;
  if (synced) {
    app.addHook('onClose', async () => {
      await synced.flush().catch(() => undefined); // best effort: Redis may be the reason we stop
      synced.close();
    });
  }
  await app.register(rateLimit, {
    global: false,
    ...(synced ? { store: synced.Store } : {}),
    skipOnError: false,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.ttl),
  });
}
