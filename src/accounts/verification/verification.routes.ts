import type { FastifyInstance } from 'fastify';
import { translate } from '../../http/views.ts';
import { EMAIL_VERIFIED } from '../../security/events.ts';
import type { SelfServicePagesOptions } from '../self-service/self-service.routes.ts';
import { auditOf, field, forgetFlow, interactionParam, page, rememberedFlow, rememberFlow } from '../self-service/pages.ts';
import { LinkError } from '../tokens/link.errors.ts';
import { resendVerification, verifyEmail } from './verification.service.ts';

/** `/verify-email?token=` (the mailed link confirms when opened) and `/verify-email/resend` (`email`). */
export async function verificationRoutes(app: FastifyInstance, { selfService, host, config, background, security }: SelfServicePagesOptions) {
  const resendForm = (data: Record<string, unknown> = {}) => ({
    title: translate('verify.resend_title'),
    intro: translate('verify.resend_intro'),
    action: '/verify-email/resend',
    submit: translate('verify.resend_submit'),
    ...data,
  });

  // The link's token is in the query string, which Fastify's request log line would record.
  app.get<{ Querystring: { token?: unknown } }>('/verify-email', { logLevel: 'warn' }, async (request, reply) => {
    let verified;
    try {
      verified = await verifyEmail(selfService, request.query.token);
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      return page(reply, 'email-form', resendForm({ title: translate('verify.problem_title'), error: err.message, intro: translate('verify.problem_body') }), 400);
    }
    await security.events.record(EMAIL_VERIFIED, auditOf(request, verified.accountId));
    const uid = verified.interactionUid;
    // Resume the sign-in the registration came from, in the browser that started it, while it lasts.
    if (uid && rememberedFlow(request) === uid && (await host.provider.Interaction.find(uid))) {
      forgetFlow(reply);
      return reply.header('cache-control', 'no-store').redirect(`/interaction/${uid}?verified=1`, 303);
    }
    return page(reply, 'notice', {
      title: translate('verify.done_title'),
      body: translate('verify.done_body'),
      linkUrl: '/login',
      linkText: translate('login.submit'),
    });
  });

  app.get<{ Querystring: { interaction?: unknown } }>('/verify-email/resend', async (request, reply) => {
    return page(reply, 'email-form', resendForm({ interaction: interactionParam(request.query.interaction) }));
  });

  app.post<{ Body: Record<string, unknown> }>('/verify-email/resend', async (request, reply) => {
    const body = request.body ?? {};
    const login = field(body.email).trim();
    const interaction = interactionParam(body.interaction);
    background.run('resending a confirmation e-mail', () => resendVerification(selfService, { login, interactionUid: interaction }));
    if (interaction) rememberFlow(reply, config, interaction);
    return reply.header('cache-control', 'no-store').redirect('/verify-email/sent', 303);
  });

  app.get('/verify-email/sent', async (_request, reply) => {
    return page(reply, 'notice', { title: translate('verify.resent_title'), body: translate('verify.resent_body') });
  });
}
