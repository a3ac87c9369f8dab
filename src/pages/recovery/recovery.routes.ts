import type { FastifyInstance } from 'fastify';
import { checkResetLink, requestPasswordReset, resetPassword } from '../../accounts/recovery/recovery.service.ts';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { LinkError } from '../../accounts/tokens/link.errors.ts';
import { ValidationError } from '../../errors.ts';
import { isPlausibleIdentifier } from '../../identifiers.ts';
import { CaptchaError, type CaptchaVerifier } from '../../security/captcha.ts';
import { CAPTCHA_FAILED, PASSWORD_RESET, PASSWORD_RESET_REQUESTED, type SecurityEvents } from '../../security/events.ts';
import type { Background } from '../background.ts';
import { auditOf, captchaWidget, field, page } from '../page.ts';
import { forgotForm, forgotRefused, forgotSent, RECOVERY_TEMPLATES, resetDone, resetForm, resetLinkProblem } from './recovery.view.ts';

export interface RecoveryOptions {
  selfService: SelfService;
  captcha: CaptchaVerifier;
  events: SecurityEvents;
  background: Background;
}

/** `/forgot-password` (`email`) and `/reset-password?token=` (`new_password`); the rules are src/accounts/recovery. */
export async function recoveryRoutes(app: FastifyInstance, { selfService, captcha, events, background }: RecoveryOptions) {
  const widget = captchaWidget(captcha);

  app.get('/forgot-password', async (_request, reply) => page(reply, RECOVERY_TEMPLATES.request, forgotForm({ captcha: widget })));

  app.post<{ Body: Record<string, unknown> }>('/forgot-password', async (request, reply) => {
    const login = field(request.body?.email).trim();
    if (!isPlausibleIdentifier(login)) return page(reply, RECOVERY_TEMPLATES.request, forgotRefused(widget), 400);
    try {
      await captcha.verify(captcha.tokenFrom(request.body), request.ip);
    } catch (err) {
      if (!(err instanceof CaptchaError)) throw err;
      await events.record(CAPTCHA_FAILED, { ...auditOf(request, null), details: { form: 'forgot-password', reason: err.reason } });
      return page(reply, RECOVERY_TEMPLATES.request, forgotForm({ captcha: widget, email: login, error: err.message }), err.statusCode);
    }
    const audit = auditOf(request, null);
    background.run('a password reset request', async () => {
      const asked = await requestPasswordReset(selfService, { login });
      if (asked) await events.record(PASSWORD_RESET_REQUESTED, { ...audit, accountId: asked.accountId });
    });
    return reply.redirect('/forgot-password/sent', 303);
  });

  app.get('/forgot-password/sent', async (_request, reply) => page(reply, RECOVERY_TEMPLATES.notice, forgotSent()));

  // Opening the link only shows the form: mail scanners that fetch links spend nothing. Not
  // logged at info: the token is in the query string, which Fastify's request log would record.
  app.get<{ Querystring: { token?: unknown } }>('/reset-password', { logLevel: 'warn' }, async (request, reply) => {
    try {
      await checkResetLink(selfService, request.query.token);
    } catch (err) {
      if (err instanceof LinkError) return page(reply, RECOVERY_TEMPLATES.notice, resetLinkProblem(err.message), 400);
      throw err;
    }
    return page(reply, RECOVERY_TEMPLATES.reset, resetForm({ token: request.query.token }));
  });

  app.post<{ Body: Record<string, unknown> }>('/reset-password', async (request, reply) => {
    const token = field(request.body?.token);
    let reset;
    try {
      reset = await resetPassword(selfService, { token, newPassword: field(request.body?.new_password) });
    } catch (err) {
      if (err instanceof LinkError) return page(reply, RECOVERY_TEMPLATES.notice, resetLinkProblem(err.message), 400);
      if (err instanceof ValidationError) return page(reply, RECOVERY_TEMPLATES.reset, resetForm({ token, error: err.message, fields: err.fields ?? {} }), 400);
      throw err;
    }
    await events.record(PASSWORD_RESET, auditOf(request, reset.accountId));
    return reply.redirect('/reset-password/done', 303);
  });

  app.get('/reset-password/done', async (_request, reply) => page(reply, RECOVERY_TEMPLATES.notice, resetDone()));
}
