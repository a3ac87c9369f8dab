import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../errors.ts';
import { translate } from '../../http/views.ts';
import { CaptchaError } from '../../security/captcha.ts';
import { CAPTCHA_FAILED, REGISTERED } from '../../security/events.ts';
import type { SelfServicePagesOptions } from '../self-service/self-service.routes.ts';
import { auditOf, captchaWidget, field, interactionParam, page, rememberFlow } from '../self-service/pages.ts';
import { register } from './registration.service.ts';

type RegisterBody = Record<string, unknown>;

/** `/register` (CONTRACT.md: `name`, `email`, `password`, optional `username`). */
export async function registrationRoutes(app: FastifyInstance, { selfService, host, config, security }: SelfServicePagesOptions) {
  const { captcha, events } = security;
  async function clientName(uid: string | undefined) {
    if (!uid) return undefined;
    const interaction = await host.provider.Interaction.find(uid);
    const client = interaction && (await host.provider.Client.find(String(interaction.params.client_id)));
    return client ? (client.clientName ?? client.clientId) : undefined;
  }

  const signInUrl = (uid: string | undefined) => (uid ? `/interaction/${uid}` : '/login');

  app.get<{ Querystring: { interaction?: unknown } }>('/register', async (request, reply) => {
    const interaction = interactionParam(request.query.interaction);
    return page(reply, 'register', {
      title: translate('register.title'),
      interaction,
      clientName: await clientName(interaction),
      signInUrl: signInUrl(interaction),
      captcha: captchaWidget(captcha),
      values: {},
      fields: {},
    });
  });

  app.post<{ Body: RegisterBody }>('/register', async (request, reply) => {
    const body = request.body ?? {};
    const interaction = interactionParam(body.interaction);
    const input = { name: field(body.name), email: field(body.email), username: field(body.username), password: field(body.password) };
    let registered;
    try {
      await captcha.verify(captcha.tokenFrom(body), request.ip);
      registered = await register(selfService, { ...input, username: input.username || undefined, interactionUid: interaction });
    } catch (err) {
      if (!(err instanceof ValidationError || err instanceof CaptchaError)) throw err;
      if (err instanceof CaptchaError) await events.record(CAPTCHA_FAILED, { ...auditOf(request, null), details: { form: 'register', reason: err.reason } });
      return page(
        reply,
        'register',
        {
          title: translate('register.title'),
          error: err.message,
          interaction,
          clientName: await clientName(interaction),
          signInUrl: signInUrl(interaction),
          captcha: captchaWidget(captcha),
          values: { name: input.name, email: input.email, username: input.username },
          fields: err.fields ?? {},
        },
        err.statusCode,
      );
    }
    // Only a new account is an event: the answer for a taken address must not differ, the log may.
    if (registered.accountId) await events.record(REGISTERED, auditOf(request, registered.accountId));
    if (interaction) rememberFlow(reply, config, interaction);
    // 303: a reload shows the page again instead of posting the password again.
    return reply.header('cache-control', 'no-store').redirect(`/register/sent${interaction ? `?interaction=${interaction}` : ''}`, 303);
  });

  app.get<{ Querystring: { interaction?: unknown } }>('/register/sent', async (request, reply) => {
    const interaction = interactionParam(request.query.interaction);
    return page(reply, 'notice', {
      title: translate('register.sent_title'),
      body: translate('register.sent_body'),
      linkUrl: signInUrl(interaction),
      linkText: translate('register.have_account'),
    });
  });
}
