import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkResetLink, requestPasswordReset, resetPassword } from '../../accounts/recovery/recovery.service.ts';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { LinkError } from '../../accounts/tokens/link.errors.ts';
import { ValidationError } from '../../errors.ts';
import { failedSchema, formBody, formEmail, formRoute, formText, NO_INPUT, queryText } from '../../http/schemas.ts';
import { CaptchaError, type CaptchaVerifier } from '../../security/captcha.ts';
import { CAPTCHA_FAILED, PASSWORD_RESET, PASSWORD_RESET_REQUESTED, type SecurityEvents } from '../../security/events.ts';
import type { Config } from '../../config.ts';
import type { Background } from '../background.ts';
import { rememberSentTo, sentTo } from '../flow-cookie.ts';
import { auditOf, captchaWidget, field, page } from '../page.ts';
import { forgotForm, forgotSent, RECOVERY_TEMPLATES, resetDone, resetForm, resetLinkProblem } from './recovery.view.ts';

export interface RecoveryOptions {
  selfService: SelfService;
  captcha: CaptchaVerifier;
  events: SecurityEvents;
  background: Background;
  config?: Pick<Config, 'issuer'>;
  /** E-mail goes to the dev mailbox: the "sent" page links to it. */
  devMailbox?: boolean;
}

const forgotSchema = { body: formBody({ email: formEmail.optional() }) };
// A missing or unknown token is the link's problem (LinkError), shown as such.
const linkSchema = { querystring: z.looseObject({ token: queryText.optional() }) };
const resetSchema = { body: formBody({ token: formText.optional(), new_password: formText.optional() }) };

/** `/forgot-password` (`email`) and `/reset-password?token=` (`new_password`); the rules are src/accounts/recovery. */
export async function recoveryRoutes(scope: FastifyInstance, { selfService, captcha, events, background, config, devMailbox }: RecoveryOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const widget = captchaWidget(captcha);

  app.get('/forgot-password', { schema: NO_INPUT }, async (_request, reply) => page(reply, RECOVERY_TEMPLATES.request, forgotForm({ captcha: widget })));

  app.post('/forgot-password', formRoute(forgotSchema), async (request, reply) => {
    // Read with field(): when the schema refused the body, it is the body as it came.
    const login = field(request.body.email).trim();
    try {
      failedSchema(request);
      await captcha.verify(captcha.tokenFrom(request.body), request.ip);
    } catch (err) {
      if (!(err instanceof CaptchaError || err instanceof ValidationError)) throw err;
      if (err instanceof CaptchaError) await events.record(CAPTCHA_FAILED, { ...auditOf(request, null), details: { form: 'forgot-password', reason: err.reason } });
      const form = forgotForm({ captcha: widget, email: login, error: err.message, fields: err.fields });
      return page(reply, RECOVERY_TEMPLATES.request, form, err.statusCode);
    }
    const audit = auditOf(request, null);
    background.run('a password reset request', async () => {
      const asked = await requestPasswordReset(selfService, { login });
      if (asked) await events.record(PASSWORD_RESET_REQUESTED, { ...audit, accountId: asked.accountId });
    });
    if (config) rememberSentTo(reply, config, login);
    return reply.redirect('/forgot-password/sent', 303);
  });

  app.get('/forgot-password/sent', { schema: NO_INPUT }, async (request, reply) => page(reply, RECOVERY_TEMPLATES.sent, forgotSent({ email: sentTo(request), devMailbox })));

  // Opening the link only shows the form: mail scanners that fetch links spend nothing. Not
  // logged at info: the token is in the query string, which Fastify's request log would record.
  app.get('/reset-password', { schema: linkSchema, logLevel: 'warn' }, async (request, reply) => {
    try {
      await checkResetLink(selfService, request.query.token);
    } catch (err) {
      if (err instanceof LinkError) return page(reply, RECOVERY_TEMPLATES.notice, resetLinkProblem(err.message), 400);
      throw err;
    }
    return page(reply, RECOVERY_TEMPLATES.reset, resetForm({ token: request.query.token }));
  });

  app.post('/reset-password', formRoute(resetSchema), async (request, reply) => {
    // Read with field(): when the schema refused the body, it is the body as it came.
    const token = field(request.body.token);
    let reset;
    try {
      failedSchema(request);
      reset = await resetPassword(selfService, { token, newPassword: field(request.body.new_password) });
    } catch (err) {
      if (err instanceof LinkError) return page(reply, RECOVERY_TEMPLATES.notice, resetLinkProblem(err.message), 400);
      if (err instanceof ValidationError) return page(reply, RECOVERY_TEMPLATES.reset, resetForm({ token, error: err.message, fields: err.fields ?? {} }), 400);
      throw err;
    }
    await events.record(PASSWORD_RESET, auditOf(request, reset.accountId));
    return reply.redirect('/reset-password/done', 303);
  });

  app.get('/reset-password/done', { schema: NO_INPUT }, async (_request, reply) => page(reply, RECOVERY_TEMPLATES.notice, resetDone()));
}
