import type { FastifyInstance } from 'fastify';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { LinkError } from '../../accounts/tokens/link.errors.ts';
import { resendVerification, verifyEmail } from '../../accounts/verification/verification.service.ts';
import type { Config } from '../../config.ts';
import { isPlausibleIdentifier } from '../../identifiers.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { EMAIL_VERIFIED, type SecurityEvents } from '../../security/events.ts';
import type { Background } from '../background.ts';
import { forgetFlow, rememberedFlow, rememberFlow } from '../flow-cookie.ts';
import { auditOf, field, interactionParam, page } from '../page.ts';
import { linkProblem, resendForm, resendRefused, resent, VERIFICATION_TEMPLATES, verified } from './verification.view.ts';

export interface VerificationOptions {
  config: Pick<Config, 'issuer' | 'ttl' | 'email'>;
  host: OidcHost;
  selfService: SelfService;
  events: SecurityEvents;
  background: Background;
}

/** `/verify-email?token=` (the mailed link confirms when opened) and `/verify-email/resend` (`email`). */
export async function verificationRoutes(app: FastifyInstance, { config, host, selfService, events, background }: VerificationOptions) {
  // The link's token is in the query string, which Fastify's request log line would record.
  app.get<{ Querystring: { token?: unknown } }>('/verify-email', { logLevel: 'warn' }, async (request, reply) => {
    let done;
    try {
      done = await verifyEmail(selfService, request.query.token);
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
      return page(reply, VERIFICATION_TEMPLATES.resend, linkProblem(err.message), 400);
    }
    await events.record(EMAIL_VERIFIED, auditOf(request, done.accountId));
    const uid = done.interactionUid;
    // Resume the sign-in the registration came from, in the browser that started it, while it lasts.
    if (uid && rememberedFlow(request) === uid && (await host.provider.Interaction.find(uid))) {
      forgetFlow(reply);
      return reply.redirect(`/interaction/${uid}?verified=1`, 303);
    }
    return page(reply, VERIFICATION_TEMPLATES.notice, verified());
  });

  app.get<{ Querystring: { interaction?: unknown } }>('/verify-email/resend', async (request, reply) => {
    return page(reply, VERIFICATION_TEMPLATES.resend, resendForm({ interaction: interactionParam(request.query.interaction) }));
  });

  app.post<{ Body: Record<string, unknown> }>('/verify-email/resend', async (request, reply) => {
    const body = request.body ?? {};
    const login = field(body.email).trim();
    const interaction = interactionParam(body.interaction);
    if (!isPlausibleIdentifier(login)) return page(reply, VERIFICATION_TEMPLATES.resend, resendRefused(interaction), 400);
    background.run('resending a confirmation e-mail', () => resendVerification(selfService, { login, interactionUid: interaction }));
    if (interaction) rememberFlow(reply, config, interaction);
    return reply.redirect('/verify-email/sent', 303);
  });

  app.get('/verify-email/sent', async (_request, reply) => page(reply, VERIFICATION_TEMPLATES.notice, resent(config.email.perAddressIntervalSeconds)));
}
