import { fastifyCookie } from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.service.ts';
import type { Config } from '../config.ts';
import { ACCESS_COOKIE, clearSessionCookies, cookieOptions, REFRESH_COOKIE, setSessionCookies, type CookieOptions } from './cookies.ts';
import { createRefreshTokensRepo } from './refresh-tokens.repo.ts';
import { z } from 'zod';
import { queryText } from '../http/schemas.ts';
import type { Sessions } from './sessions.service.ts';

/**
 * Signing a browser out of every Gatehouse session it holds (issue 12): the provider's SSO
 * session and the first-party session (`gatehouse_at`, `gatehouse_rt`).
 *
 * `gatehouse_rt` only goes to `/session` (CONTRACT.md), so a page elsewhere (`/account`) cannot
 * name the refresh family to revoke. It sends the browser on, with a 303, to GET `/session/end`,
 * which can: the link carries a short-lived token signed with SECRETS, so that no other site can
 * send a browser there (a forged sign-out, or, for "keep", a session opened for someone else).
 */
export const SESSION_END_PATH = '/session/end';

/** `out`: end this browser's session; `keep`: the account's sessions were just revoked, reopen this one. */
export type SessionEndMode = 'out' | 'keep';

const TOKEN_TTL_MS = 60_000;

/** The URL that ends (or, `keep`, renews) the first-party session of the browser that follows it. */
export function sessionEndUrl(request: FastifyRequest, mode: SessionEndMode, accountId = '', now = Date.now()): string {
  return `${SESSION_END_PATH}?t=${encodeURIComponent(request.signCookie(`${mode}.${accountId}.${now + TOKEN_TTL_MS}`))}`;
}

function readEndToken(request: FastifyRequest, raw: unknown, now = Date.now()): { mode: SessionEndMode; accountId: string } | undefined {
  if (typeof raw !== 'string') return undefined;
  const unsigned = request.unsignCookie(raw);
  if (!unsigned.valid || !unsigned.value) return undefined;
  const [mode, accountId, expires] = unsigned.value.split('.');
  if ((mode !== 'out' && mode !== 'keep') || !(Number(expires) > now)) return undefined;
  return { mode, accountId: accountId ?? '' };
}

/**
 * Ends the provider session of the request's browser (its `_session` cookie) and clears that
 * cookie; returns the ended session's uid. The provider's own `/logout` does the same with a
 * confirmation page; `/account` has its own CSRF-protected form instead.
 */
export async function endProviderSessionOf(provider: Provider, request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
  const name = provider.cookieName('session');
  const signed = request.cookies[name] && request.cookies[`${name}.sig`] ? readProviderCookie(provider, request, reply, name) : undefined;
  const session = signed ? await provider.Session.find(signed) : undefined;
  await session?.destroy();
  for (const cookie of [name, `${name}.sig`]) reply.clearCookie(cookie, { path: '/', secure: request.protocol === 'https' });
  return session?.uid;
}

function readProviderCookie(provider: Provider, request: FastifyRequest, reply: FastifyReply, name: string): string | undefined {
  // The provider signs its cookies its own way (keygrip); its context reads them.
  const ctx = (provider as unknown as { createContext(req: unknown, res: unknown): { cookies: { get(n: string, o: object): string | undefined } } }).createContext(request.raw, reply.raw);
  return ctx.cookies.get(name, { signed: true }) ?? undefined;
}

export interface SessionEndOptions {
  sessions: Sessions;
  cookies: CookieOptions;
  accounts: Pick<Accounts, 'findById'>;
}

/** GET `/session/end` (registered with the `/session` prefix). */
export async function sessionEndRoutes(app: FastifyInstance, { sessions, cookies, accounts }: SessionEndOptions) {
  app.get<{ Querystring: { t?: unknown } }>('/end', { schema: { querystring: z.looseObject({ t: queryText.optional() }) } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const token = readEndToken(request, request.query.t);
    if (!token) return reply.redirect('/account', 303);
    const family = await sessions.logout(request.cookies[REFRESH_COOKIE]);
    clearSessionCookies(reply, cookies);
    if (token.mode === 'out') return reply.redirect('/account/signed-out?why=signed-out', 303);
    // "Sign out other sessions": everything issued up to the revocation's second is void
    // (src/accounts/revocation), this browser's session too; it gets a new one, from the next second.
    if (!family || family.accountId !== token.accountId) return reply.redirect('/account/signed-out?why=sessions', 303);
    const revokedAt = (await accounts.findById(token.accountId))?.sessionsRevokedAt;
    const wait = revokedAt ? Math.floor(revokedAt.getTime() / 1000) * 1000 + 1000 - Date.now() : 0;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    setSessionCookies(reply, cookies, await sessions.open({ accountId: family.accountId, clientId: family.clientId, scope: family.scope }));
    return reply.redirect('/account?done=others', 303);
  });
}

/**
 * oidc-provider's `end_session.success` (`/logout`, "sign out" confirmed): the browser's
 * first-party session ends with its provider session. Its cookies are cleared on the same
 * answer; the families opened from that provider session are revoked server-side.
 */
export function providerLogoutHook({ knex, config, log }: { knex: Knex; config: Pick<Config, 'issuer' | 'cookieDomain'>; log: { warn(o: object, m: string): void } }) {
  const repo = createRefreshTokensRepo(knex);
  const cookies = cookieOptions(config);
  return (ctx: KoaContextWithOIDC) => {
    for (const [name, options] of [[ACCESS_COOKIE, cookies.access], [REFRESH_COOKIE, cookies.refresh]] as const) {
      ctx.append('Set-Cookie', fastifyCookie.serialize(name, '', { ...options, secure: options.secure === true, maxAge: 0, expires: new Date(0) }));
    }
    const uid = ctx.oidc.session?.uid;
    // The event is not awaited by the provider: the revocation finishes on its own.
    if (uid) repo.revokeBySession(uid, 'logout', new Date()).catch((err: unknown) => log.warn({ err }, 'could not revoke the first-party sessions of a provider logout'));
  };
}
