import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { LinkError } from '../../accounts/tokens/link.errors.ts';
import { resendVerification, verifyEmail } from '../../accounts/verification/verification.service.ts';
import type { Config } from '../../config.ts';
import { ValidationError } from '../../errors.ts';
import { failedSchema, formBody, formEmail, formRoute, formText, NO_INPUT, queryText } from '../../http/schemas.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { EMAIL_VERIFIED, type SecurityEvents } from '../../security/events.ts';
import type { Background } from '../background.ts';
import { forgetFlow, rememberedFlow, rememberFlow, rememberSentTo, sentTo } from '../flow-cookie.ts';
import { auditOf, field, interactionParam, page } from '../page.ts';
import { alreadyConfirmed, linkProblem, resendForm, resent, VERIFICATION_TEMPLATES, verified } from './verification.view.ts';

export interface VerificationOptions {
  config: Pick<Config, 'issuer' | 'ttl' | 'email'>;
  host: OidcHost;
  selfService: SelfService;
  events: SecurityEvents;
  background: Background;
  /** E-mail goes to the dev mailbox: the "sent" page links to it. */
  devMailbox?: boolean;
}

// A missing or unknown token is the link's problem (LinkError), shown with the resend form.
const linkSchema = { querystring: z.looseObject({ token: queryText.optional() }) };
const resendPageSchema = { querystring: z.looseObject({ interaction: queryText.optional() }) };
const resendSchema = { body: formBody({ email: formEmail.optional(), interaction: formText.optional() }) };

/** `/verify-email?token=` (the mailed link confirms when opened) and `/verify-email/resend` (`email`). */
export async function verificationRoutes(scope: FastifyInstance, { config, host, selfService, events, background, devMailbox }: VerificationOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  // The link's token is in the query string, which Fastify's request log line would record.
  app.get('/verify-email', { schema: linkSchema, logLevel: 'warn' }, async (request, reply) => {
    let done;
    try {
      done = await verifyEmail(selfService, request.query.token);
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      return page(reply, VERIFICATION_TEMPLATES.resend, linkProblem(err.message), 400);
    }
    if (done.alreadyConfirmed) return page(reply, VERIFICATION_TEMPLATES.notice, alreadyConfirmed());
    await events.record(EMAIL_VERIFIED, auditOf(request, done.accountId));
    const uid = done.interactionUid;
    // Resume the sign-in the registration came from, in the browser that started it, while it lasts.
    if (uid && rememberedFlow(request) === uid && (await host.provider.Interaction.find(uid))) {
      forgetFlow(reply);
      return reply.redirect(`/interaction/${uid}?verified=1`, 303);
    }
    return page(reply, VERIFICATION_TEMPLATES.notice, verified());
  });

  app.get('/verify-email/resend', { schema: resendPageSchema }, async (request, reply) => {
    return page(reply, VERIFICATION_TEMPLATES.resend, resendForm({ interaction: interactionParam(request.query.interaction) }));
  });

  app.post('/verify-email/resend', formRoute(resendSchema), async (request, reply) => {
    // Read with field(): when the schema refused the body, it is the body as it came.
    const body = request.body;
    const login = field(body.email).trim();
    const interaction = interactionParam(body.interaction);
    try {
      failedSchema(request);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const form = resendForm({ interaction, email: login, error: err.message, fields: err.fields ?? {} });
      return page(reply, VERIFICATION_TEMPLATES.resend, form, err.statusCode);
    }
    background.run('resending a confirmation e-mail', () => resendVerification(selfService, { login, interactionUid: interaction }));
    if (interaction) rememberFlow(reply, config, interaction);
    rememberSentTo(reply, config, login);
    return reply.redirect('/verify-email/sent', 303);
  });

  app.get('/verify-email/sent', { schema: NO_INPUT }, async (request, reply) =>
    page(reply, VERIFICATION_TEMPLATES.sent, resent(config.email.perAddressIntervalSeconds, { email: sentTo(request), devMailbox })),
  );
}
