import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';

/**
 * A sign-in whose password was right and whose second factor is still to come: a signed cookie
 * scoped to its interaction (`/interaction/:uid`), so only the browser that gave the password
 * continues it, and only in that sign-in. Nothing is stored server-side for an abandoned one.
 */
const PENDING_COOKIE = 'gatehouse_mfa';

export interface PendingLogin {
  uid: string;
  accountId: string;
  /** When the password was given (the sign-in's `auth_time`), in seconds. */
  ts: number;
}

const pathOf = (uid: string) => `/interaction/${uid}`;

export function rememberPending(reply: FastifyReply, config: Pick<Config, 'issuer' | 'ttl'>, pending: PendingLogin) {
  reply.setCookie(PENDING_COOKIE, JSON.stringify(pending), {
    path: pathOf(pending.uid),
    httpOnly: true,
    sameSite: 'lax',
    secure: config.issuer.startsWith('https:'),
    signed: true,
    maxAge: config.ttl.interaction,
  });
}

/** The pending sign-in of this interaction, if this browser has one. */
export function pendingOf(request: FastifyRequest, uid: string): PendingLogin | undefined {
  const raw = request.cookies[PENDING_COOKIE];
  const unsigned = raw ? request.unsignCookie(raw) : undefined;
  if (!unsigned?.valid || !unsigned.value) return undefined;
  try {
    const p = JSON.parse(unsigned.value) as Partial<PendingLogin>;
    if (p.uid === uid && typeof p.accountId === 'string' && typeof p.ts === 'number') return p as PendingLogin;
  } catch {
    // not ours
  }
  return undefined;
}

export function forgetPending(reply: FastifyReply, uid: string) {
  reply.clearCookie(PENDING_COOKIE, { path: pathOf(uid) });
}
