import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import type { Log } from '../../email/outbox.service.ts';
import type { CaptchaVerifier } from '../../security/captcha.ts';
import type { SecurityEventContext } from '../../security/events.ts';

/** A form field as a string: absent, repeated (`a=1&a=2`) or odd values become ''. */
export function field(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

// oidc-provider's interaction uids are nanoids; anything else is ignored, never echoed back.
const INTERACTION_UID = /^[A-Za-z0-9_-]{8,64}$/;

export function interactionParam(value: unknown): string | undefined {
  return typeof value === 'string' && INTERACTION_UID.test(value) ? value : undefined;
}

/** Who did it, from where: for security events (src/security/events.ts). */
export function auditOf(request: FastifyRequest, accountId: string | null | undefined): SecurityEventContext {
  return { accountId, ip: request.ip, userAgent: request.headers['user-agent'] };
}

/** What the `captcha` partial needs to show the widget, when a captcha is configured. */
export function captchaWidget(captcha: CaptchaVerifier) {
  return captcha.enabled ? { siteKey: captcha.siteKey, scriptUrl: captcha.widget!.scriptUrl, className: captcha.widget!.className } : undefined;
}

/** Renders a hosted page; pages with forms or mailed tokens are never cached. */
export function page(reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200) {
  return reply.code(status).header('cache-control', 'no-store').view(view, data);
}

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
 * Work done after the answer is sent: the answer to "mail me a link" must not depend on whether
 * there is an account to mail, in content or in time. `drain` waits for what is running.
 */
export function createBackground(log: Log) {
  const running = new Set<Promise<void>>();
  return {
    run(what: string, task: () => Promise<void>) {
      const p: Promise<void> = task()
        .catch((err: Error) => log.error({ err: err.message }, `${what} failed`))
        .finally(() => running.delete(p));
      running.add(p);
    },
    async drain() {
      await Promise.all([...running]);
    },
  };
}

export type Background = ReturnType<typeof createBackground>;
