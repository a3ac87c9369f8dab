import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../errors.ts';
import { translate } from '../../http/views.ts';
import type { SelfServicePagesOptions } from '../self-service/self-service.routes.ts';
import { field, interactionParam, page, rememberFlow } from '../self-service/pages.ts';
import { register } from './registration.service.ts';

type RegisterBody = Record<string, unknown>;

/** `/register` (CONTRACT.md: `name`, `email`, `password`, optional `username`). */
export async function registrationRoutes(app: FastifyInstance, { selfService, host, config }: SelfServicePagesOptions) {
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
      values: {},
      fields: {},
    });
  });

  app.post<{ Body: RegisterBody }>('/register', async (request, reply) => {
    const body = request.body ?? {};
    const interaction = interactionParam(body.interaction);
    const input = { name: field(body.name), email: field(body.email), username: field(body.username), password: field(body.password) };
    try {
      await register(selfService, { ...input, username: input.username || undefined, interactionUid: interaction });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return page(
        reply,
        'register',
        {
          title: translate('register.title'),
          error: err.message,
          interaction,
          clientName: await clientName(interaction),
          signInUrl: signInUrl(interaction),
          values: { name: input.name, email: input.email, username: input.username },
          fields: err.fields ?? {},
        },
        400,
      );
    }
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
