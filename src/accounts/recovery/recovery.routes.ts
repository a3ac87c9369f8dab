import type { FastifyInstance, FastifyReply } from 'fastify';
import { ValidationError } from '../../errors.ts';
import { translate } from '../../http/views.ts';
import { CaptchaError } from '../../security/captcha.ts';
import { CAPTCHA_FAILED, PASSWORD_RESET, PASSWORD_RESET_REQUESTED } from '../../security/events.ts';
import type { SelfServicePagesOptions } from '../self-service/self-service.routes.ts';
import { auditOf, captchaWidget, field, page } from '../self-service/pages.ts';
import { LinkError } from '../tokens/link.errors.ts';
import { checkResetLink, requestPasswordReset, resetPassword } from './recovery.service.ts';

/** `/forgot-password` (`email`) and `/reset-password?token=` (`new_password`). */
export async function recoveryRoutes(app: FastifyInstance, { selfService, background, security }: SelfServicePagesOptions) {
  const { captcha, events } = security;
  const forgotForm = {
    title: translate('forgot.title'),
    intro: translate('forgot.intro'),
    action: '/forgot-password',
    submit: translate('forgot.submit'),
    captcha: captchaWidget(captcha),
  };

  function linkProblem(reply: FastifyReply, err: LinkError) {
    return page(
      reply,
      'notice',
      { title: translate('reset.problem_title'), error: err.message, linkUrl: '/forgot-password', linkText: translate('reset.problem_link') },
      400,
    );
  }

  app.get('/forgot-password', async (_request, reply) => page(reply, 'email-form', forgotForm));

  app.post<{ Body: Record<string, unknown> }>('/forgot-password', async (request, reply) => {
    const login = field(request.body?.email).trim();
    try {
      await captcha.verify(captcha.tokenFrom(request.body), request.ip);
    } catch (err) {
      if (!(err instanceof CaptchaError)) throw err;
      await events.record(CAPTCHA_FAILED, { ...auditOf(request, null), details: { form: 'forgot-password', reason: err.reason } });
      return page(reply, 'email-form', { ...forgotForm, email: login, error: err.message }, err.statusCode);
    }
    const audit = auditOf(request, null);
    background.run('a password reset request', async () => {
      const asked = await requestPasswordReset(selfService, { login });
      if (asked) await events.record(PASSWORD_RESET_REQUESTED, { ...audit, accountId: asked.accountId });
    });
    return reply.header('cache-control', 'no-store').redirect('/forgot-password/sent', 303);
  });

  app.get('/forgot-password/sent', async (_request, reply) => {
    return page(reply, 'notice', { title: translate('forgot.sent_title'), body: translate('forgot.sent_body') });
  });

  // Opening the link only shows the form: mail scanners that fetch links spend nothing. Not
  // logged at info: the token is in the query string, which Fastify's request log would record.
  app.get<{ Querystring: { token?: unknown } }>('/reset-password', { logLevel: 'warn' }, async (request, reply) => {
    try {
      await checkResetLink(selfService, request.query.token);
    } catch (err) {
      if (err instanceof LinkError) return linkProblem(reply, err);
      throw err;
    }
    return page(reply, 'reset-password', { title: translate('reset.title'), token: request.query.token, fields: {} });
  });

  app.post<{ Body: Record<string, unknown> }>('/reset-password', async (request, reply) => {
    const token = field(request.body?.token);
    let reset;
    try {
      reset = await resetPassword(selfService, { token, newPassword: field(request.body?.new_password) });
    } catch (err) {
      if (err instanceof LinkError) return linkProblem(reply, err);
      if (err instanceof ValidationError) {
        return page(reply, 'reset-password', { title: translate('reset.title'), token, error: err.message, fields: err.fields ?? {} }, 400);
      }
      throw err;
    }
    await events.record(PASSWORD_RESET, auditOf(request, reset.accountId));
    return reply.header('cache-control', 'no-store').redirect('/reset-password/done', 303);
  });

  app.get('/reset-password/done', async (_request, reply) => {
    return page(reply, 'notice', { title: translate('reset.done_title'), body: translate('reset.done_body'), linkUrl: '/login', linkText: translate('login.submit') });
  });
}
