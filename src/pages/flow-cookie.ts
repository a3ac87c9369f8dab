import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';

/**
 * `gatehouse_flow` remembers, in the browser that registered (or asked for a new link) inside
 * an OIDC sign-in, which interaction that was. The confirmation link resumes the sign-in only
 * in that browser: opened anywhere else it confirms the address and offers a plain sign-in.
 */
const FLOW_COOKIE = 'gatehouse_flow';
const FLOW_PATH = '/verify-email';

export function rememberFlow(reply: FastifyReply, config: Pick<Config, 'issuer' | 'ttl'>, uid: string) {
  reply.setCookie(FLOW_COOKIE, uid, {
    path: FLOW_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: config.issuer.startsWith('https:'),
    signed: true,
    maxAge: config.ttl.interaction,
  });
}

export function rememberedFlow(request: FastifyRequest): string | undefined {
  const raw = request.cookies[FLOW_COOKIE];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  return valid ? (value ?? undefined) : undefined;
}

export function forgetFlow(reply: FastifyReply) {
  reply.clearCookie(FLOW_COOKIE, { path: FLOW_PATH });
}

/**
 * `gatehouse_sent` remembers, for the "check your e-mail" page that follows a form, the address
 * typed into it (issue 12: the page names it). Signed, HttpOnly, for an hour, in that browser
 * only: the address never travels in a URL, where logs would keep it.
 */
const SENT_COOKIE = 'gatehouse_sent';

export function rememberSentTo(reply: FastifyReply, config: Pick<Config, 'issuer'>, address: string) {
  if (!address) return;
  reply.setCookie(SENT_COOKIE, address.slice(0, 320), { path: '/', httpOnly: true, sameSite: 'lax', secure: config.issuer.startsWith('https:'), signed: true, maxAge: 3600 });
}

/** The address the last "send me a link" form of this browser was given, if any. */
export function sentTo(request: FastifyRequest): string | undefined {
  const raw = request.cookies[SENT_COOKIE];
  if (!raw) return undefined;
  const { valid, value } = request.unsignCookie(raw);
  return valid && value ? value : undefined;
}
