import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { register } from '../../accounts/registration/registration.service.ts';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { REGISTER_CAPTCHA_AFTER } from '../../../config/defaults.ts';
import type { Config } from '../../config.ts';
import { translate } from '../../http/views.ts';
import { ValidationError } from '../../errors.ts';
import { failedSchema, formBody, formEmail, formRoute, formText, queryText } from '../../http/schemas.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { CaptchaError, type CaptchaVerifier } from '../../security/captcha.ts';
import { CAPTCHA_FAILED, REGISTERED, type SecurityEvents } from '../../security/events.ts';
import { rememberFlow, rememberSentTo, sentTo } from '../flow-cookie.ts';
import { clientOfInteraction } from '../interaction.ts';
import { auditOf, captchaWidget, field, interactionParam, page } from '../page.ts';
import { REGISTRATION_TEMPLATES, registrationForm, registrationSent } from './registration.view.ts';

export interface RegistrationOptions {
  config: Pick<Config, 'issuer' | 'ttl' | 'firstParty'> & Partial<Pick<Config, 'rateLimits'>>;
  host: OidcHost;
  selfService: SelfService;
  captcha: CaptchaVerifier;
  events: SecurityEvents;
  /** E-mail goes to the dev mailbox (no SMTP_URL, outside production): the "sent" page links to it. */
  devMailbox?: boolean;
}

/** `interaction`: the OIDC sign-in the page belongs to (an ill-formed one is ignored, src/pages/page.ts). */
const pageSchema = { querystring: z.looseObject({ interaction: queryText.optional() }) };
// Each field one string; whether it is a good name, address, username or password is the
// registration rules' to say (src/accounts/registration), with the same field names.
const registerSchema = {
  body: formBody({ name: formText.optional(), email: formEmail.optional(), username: formText.optional(), password: formText.optional(), interaction: formText.optional() }),
};

/** Why a registration was sent back for a captcha it was not shown: not a failure, not an event. */
const BUSY = 'busy-address';

/**
 * Registrations from this address in the current window, this one included, as the rate limit
 * (src/security/rate-limits.ts) counted them: its `x-ratelimit-remaining` says how many are left.
 */
function registrationsSoFar(reply: FastifyReply, max: number): number {
  const remaining = Number(reply.getHeader('x-ratelimit-remaining'));
  return Number.isFinite(remaining) ? max - remaining : 0;
}

/** `/register` (CONTRACT.md: `name`, `email`, `password`, optional `username`); the rules are src/accounts/registration. */
export async function registrationRoutes(scope: FastifyInstance, { config, host, selfService, captcha, events, devMailbox }: RegistrationOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  // Issue 12: a busy address (a classroom, an office) is asked for the captcha, when one is
  // configured, past `captchaAfter` registrations in the window, before `max` refuses it (429).
  const limit = config.rateLimits?.register;
  const captchaAfter = limit?.captchaAfter ?? REGISTER_CAPTCHA_AFTER;
  const always = captcha.enabled && captchaAfter === 0;
  const busy = (reply: FastifyReply) => captcha.enabled && (always || registrationsSoFar(reply, limit?.max ?? 0) > captchaAfter);

  app.get('/register', { schema: pageSchema }, async (request, reply) => {
    const interaction = interactionParam(request.query.interaction);
    const client = await clientOfInteraction(host, interaction, config.firstParty.builtinClientId);
    return page(reply, REGISTRATION_TEMPLATES.form, registrationForm({ interaction, client, captcha: always ? captchaWidget(captcha) : undefined }));
  });

  app.post('/register', formRoute(registerSchema), async (request, reply) => {
    // Read with field(): when the schema refused the body, it is the body as it came.
    const body = request.body;
    const interaction = interactionParam(body.interaction);
    const input = { name: field(body.name), email: field(body.email), username: field(body.username), password: field(body.password) };
    let registered;
    const needsCaptcha = busy(reply);
    try {
      failedSchema(request);
      if (needsCaptcha && !always && !captcha.tokenFrom(body)) throw new CaptchaError('CAPTCHA_FAILED', BUSY);
      if (needsCaptcha) await captcha.verify(captcha.tokenFrom(body), request.ip);
      registered = await register(selfService, { ...input, username: input.username || undefined, interactionUid: interaction });
    } catch (err) {
      if (!(err instanceof ValidationError || err instanceof CaptchaError)) throw err;
      const asked = err instanceof CaptchaError && err.reason === BUSY;
      if (err instanceof CaptchaError && !asked) await events.record(CAPTCHA_FAILED, { ...auditOf(request, null), details: { form: 'register', reason: err.reason } });
      const form = registrationForm({
        interaction,
        client: await clientOfInteraction(host, interaction, config.firstParty.builtinClientId),
        captcha: needsCaptcha ? captchaWidget(captcha) : undefined,
        error: asked ? translate('captcha.busy') : err.message,
        values: { name: input.name, email: input.email, username: input.username },
        fields: err.fields ?? {},
      });
      return page(reply, REGISTRATION_TEMPLATES.form, form, err.statusCode);
    }
    // Only a new account is an event: the answer for a taken address must not differ, the log may.
    if (registered.accountId) await events.record(REGISTERED, auditOf(request, registered.accountId));
    if (interaction) rememberFlow(reply, config, interaction);
    rememberSentTo(reply, config, input.email.trim());
    // 303: a reload shows the page again instead of posting the password again.
    return reply.redirect(`/register/sent${interaction ? `?interaction=${interaction}` : ''}`, 303);
  });

  app.get('/register/sent', { schema: pageSchema }, async (request, reply) => {
    return page(reply, REGISTRATION_TEMPLATES.sent, registrationSent(interactionParam(request.query.interaction), { email: sentTo(request), devMailbox }));
  });
}
