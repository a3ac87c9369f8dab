import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply } from 'fastify';
import type { Config } from '../config.ts';
import { CALLBACK_PATH, SESSION_PREFIX } from './client-metadata.ts';
import { ACCESS_COOKIE } from './resource-server.ts';
import type { IssuedSession } from './sessions.service.ts';

export { ACCESS_COOKIE };
export const REFRESH_COOKIE = 'gatehouse_rt';
/** One per sign-in under way, named by its `state`, so two tabs signing in do not collide. */
export const FLOW_COOKIE_PREFIX = 'gatehouse_flow_';


/**
 * The attributes CONTRACT.md fixes for first-party cookies. HttpOnly keeps tokens from page
 * scripts; SameSite=Lax keeps them off cross-site subresource requests and POSTs (RFC 6265bis
 * §5.4.7); Secure whenever the issuer is https; `Domain` only with COOKIE_DOMAIN, for apps on
 * sibling subdomains (host-only cookies otherwise, RFC 6265bis §5.6). The refresh token goes
 * only to `/session`, the one place that reads it.
 */
export function cookieOptions(config: Pick<Config, 'issuer' | 'cookieDomain'>) {
  const base: CookieSerializeOptions = {
    httpOnly: true,
    sameSite: 'lax',
    secure: new URL(config.issuer).protocol === 'https:',
    ...(config.cookieDomain ? { domain: config.cookieDomain } : {}),
  };
  return {
    access: { ...base, path: '/' },
    refresh: { ...base, path: SESSION_PREFIX },
    // Only Gatehouse reads it, on its callback: host-only and signed (SECRETS).
    flow: { httpOnly: true, sameSite: 'lax', secure: base.secure, path: CALLBACK_PATH, signed: true } satisfies CookieSerializeOptions,
  };
}

export type CookieOptions = ReturnType<typeof cookieOptions>;

/** Each cookie lives as long as its token: the browser drops it when the server would refuse it. */
export function setSessionCookies(reply: FastifyReply, options: CookieOptions, session: IssuedSession, now = Date.now()) {
  const maxAge = (expiresAt: number) => Math.max(0, expiresAt - Math.floor(now / 1000));
  reply.setCookie(ACCESS_COOKIE, session.accessToken.token, { ...options.access, maxAge: maxAge(session.accessToken.expiresAt) });
  reply.setCookie(REFRESH_COOKIE, session.refreshToken.token, { ...options.refresh, maxAge: maxAge(session.refreshToken.expiresAt) });
}

export function clearSessionCookies(reply: FastifyReply, options: CookieOptions) {
  reply.clearCookie(ACCESS_COOKIE, options.access);
  reply.clearCookie(REFRESH_COOKIE, options.refresh);
}
