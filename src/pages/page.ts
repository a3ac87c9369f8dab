import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CaptchaVerifier } from '../security/captcha.ts';
import { requestContext, type SecurityEventContext } from '../security/events.ts';

/** A form field as a string: absent, repeated (`a=1&a=2`) or odd values become ''. */
export function field(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

// oidc-provider's interaction uids are nanoids; anything else is ignored, never echoed back.
const INTERACTION_UID = /^[A-Za-z0-9_-]{8,64}$/;

/** The `interaction` a page was opened or posted with (the OIDC sign-in it belongs to), if well-formed. */
export function interactionParam(value: unknown): string | undefined {
  return typeof value === 'string' && INTERACTION_UID.test(value) ? value : undefined;
}

/** Who did it, from where: for security events (src/security/events.ts). */
export function auditOf(request: FastifyRequest, accountId: string | null | undefined): SecurityEventContext {
  return { accountId, ...requestContext(request) };
}

/** What the `captcha` partial needs to show the widget, when a captcha is configured. */
export function captchaWidget(captcha: CaptchaVerifier) {
  return captcha.enabled ? { siteKey: captcha.siteKey, scriptUrl: captcha.widget!.scriptUrl, className: captcha.widget!.className } : undefined;
}

/** Renders a hosted page (never cached: src/security/headers.ts sets no-store on every page). */
export function page(reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200) {
  return reply.code(status).view(view, data);
}
