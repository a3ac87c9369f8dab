import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.ts';

interface Limit {
  max: number;
  timeWindow: number;
}

const MINUTE = 60_000;

/**
 * Per-client-IP limits on the endpoints people or scripts hammer (ASVS V2.4, RFC 9700 §4.15).
 * Kept in one table so the limits can be read in one place; a path matches exactly or, with
 * a trailing `*`, by prefix. Brute force against one account is counted separately
 * (src/security/login-throttle.ts): this is about volume from one address.
 */
export const RATE_LIMITS: { method: string; path: string; limit: Limit }[] = [
  { method: 'POST', path: '/register', limit: { max: 10, timeWindow: 10 * MINUTE } },
  { method: 'POST', path: '/forgot-password', limit: { max: 5, timeWindow: 15 * MINUTE } },
  { method: 'POST', path: '/reset-password', limit: { max: 10, timeWindow: 15 * MINUTE } },
  { method: 'POST', path: '/verify-email/resend', limit: { max: 5, timeWindow: 15 * MINUTE } },
  { method: 'POST', path: '/resend-verification', limit: { max: 5, timeWindow: 15 * MINUTE } },
  { method: 'POST', path: '/session/login', limit: { max: 20, timeWindow: MINUTE } },
  { method: 'POST', path: '/session/refresh', limit: { max: 120, timeWindow: MINUTE } },
  { method: 'POST', path: '/session/logout', limit: { max: 60, timeWindow: MINUTE } },
  { method: 'GET', path: '/session/start', limit: { max: 60, timeWindow: MINUTE } },
  { method: 'POST', path: '/interaction/*', limit: { max: 30, timeWindow: MINUTE } },
  // Apps call these from their servers: one address speaks for many users, so the limits are
  // generous; they stop floods, while guessing is stopped by the secrets and codes themselves.
  { method: 'POST', path: '/token', limit: { max: 1200, timeWindow: MINUTE } },
  { method: 'POST', path: '/token/*', limit: { max: 2400, timeWindow: MINUTE } },
  { method: 'POST', path: '/reg', limit: { max: 10, timeWindow: MINUTE } },
];

function limitFor(method: string | string[], url: string): Limit | undefined {
  const methods = Array.isArray(method) ? method : [method];
  const rule = RATE_LIMITS.find(
    (r) => methods.includes(r.method) && (r.path.endsWith('*') ? url.startsWith(r.path.slice(0, -1)) && url !== r.path.slice(0, -2) : url === r.path),
  );
  return rule?.limit;
}

export class RateLimitedError extends AppError {
  constructor(after: string) {
    super('RATE_LIMITED', 429, `Too many requests. Please wait ${after} and try again.`);
    this.name = 'RateLimitedError';
  }
}

/**
 * Registers @fastify/rate-limit (Redis store when Redis is configured, shared by every
 * instance; memory otherwise) and attaches the table's limits to routes as they are added.
 * Call before any route is registered. When the Redis store fails the request fails (503),
 * never unlimited (`skipOnError: false`).
 */
export async function registerRateLimits(app: FastifyInstance, { redis, prefix, enabled = true }: { redis?: Redis; prefix: string; enabled?: boolean }) {
  if (!enabled) return;
  app.addHook('onRoute', (route: RouteOptions) => {
    const limit = limitFor(route.method, route.url ?? '');
    if (limit) route.config = { ...(route.config as object), rateLimit: limit } as RouteOptions['config'];
  });
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace: `${prefix}ratelimit:`,
    skipOnError: false,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after),
  });
}
