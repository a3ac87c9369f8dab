import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jsonSchemaTransform, serializerCompiler } from 'fastify-type-provider-zod';
import type Provider from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.service.ts';
import { AppError, isDependencyDown } from '../errors.ts';
import { publicCode, RETRY_AFTER_SECONDS } from '../http/errors.ts';
import { NO_INPUT } from '../http/schemas.ts';
import type { ClientsRepo } from '../oidc/clients.repo.ts';
import type { SecurityEvents } from '../security/events.ts';
import { adminAuthorization, AdminUnauthorizedError } from './auth.ts';
import { adminClientsRoutes } from './clients.routes.ts';
import { adminFactorsRoutes, type AdminFactorsOptions } from './factors.routes.ts';
import { adminOutboxRoutes, type AdminOutboxOptions } from './outbox.routes.ts';
import { adminUsersRoutes, type AdminUsersOptions } from './users.routes.ts';

export interface AdminApiOptions extends Omit<AdminUsersOptions, 'events'>, Omit<AdminOutboxOptions, 'events'> {
  provider: Provider;
  clients: ClientsRepo;
  accounts: Accounts;
  events: SecurityEvents;
  removeFactors: AdminFactorsOptions['removeFactors'];
}

/** What the OpenAPI document and its viewer are served at (CONTRACT.md); no token needed to read them. */
const OPENAPI_PATH = '/openapi.json';
const DOCS_PREFIX = '/docs';

/**
 * The admin API's own error shape (CONTRACT.md "Admin API"): `{ error, message, field? }`,
 * `field` naming the (first) field of a validation failure, where the rest of the app says
 * `fields`. Nothing of the request or of stored data is echoed in an error.
 */
function sendAdminError(reply: FastifyReply, status: number, error: string, message: string, field?: string) {
  reply.code(status).header('cache-control', 'no-store');
  return reply.send({ error, message, ...(field ? { field } : {}) });
}

function adminErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AdminUnauthorizedError) reply.header('www-authenticate', err.challenge);
  if (err instanceof AppError) {
    const field = err.fields ? Object.keys(err.fields)[0] : undefined;
    // A schema failure's message names every field; one field with its problem says more.
    const message = field && err.code === 'VALIDATION_FAILED' ? `${field}: ${err.fields![field]}` : err.message;
    return sendAdminError(reply, err.statusCode, err.code, message, field);
  }
  if (isDependencyDown(err)) {
    reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return sendAdminError(reply, 503, 'SERVICE_UNAVAILABLE', 'A service Gatehouse depends on is not answering; try again shortly.');
  }
  const status = err.statusCode ?? 500;
  if (status < 500) return sendAdminError(reply, status, publicCode(status, err.code), err.message);
  request.log.error({ err }, 'admin request failed');
  return sendAdminError(reply, 500, 'INTERNAL_ERROR', 'Something went wrong on our side.');
}

/**
 * The admin API under /admin/api (issue 11): register with `{ prefix: '/admin/api' }`. Its own
 * encapsulated scope, so that the OpenAPI document lists the admin routes only, answers are
 * serialized through their zod schemas (a secret not in the schema cannot leave), and errors
 * take the admin API's shape.
 */
export async function adminApiRoutes(app: FastifyInstance, options: AdminApiOptions) {
  const { provider, clients, accounts, events } = options;
  app.setErrorHandler(adminErrorHandler);
  app.setNotFoundHandler((_request, reply) => sendAdminError(reply, 404, 'NOT_FOUND', 'There is no such admin API route.'));
  app.setSerializerCompiler(serializerCompiler);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Gatehouse admin API', version: '1.0.0', description: 'Administering Gatehouse: a bearer access token of this Gatehouse with the `admin` scope.' },
      servers: [{ url: provider.issuer }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An access token with the admin scope' } } },
    },
    transform: jsonSchemaTransform,
  });
  // Served from Gatehouse's own files: no CDN. Its page loads only its own scripts and styles,
  // which the app's CSP (script-src 'self', style-src 'self') allows as it is.
  // `indexPrefix`: the page names its files by absolute path, which must carry this scope's prefix.
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX, indexPrefix: '/admin/api', theme: { title: 'Gatehouse admin API' } });
  app.get(OPENAPI_PATH, { schema: { ...NO_INPUT, hide: true } }, async () => app.swagger());

  await app.register(async (secured) => {
    secured.addHook('preHandler', adminAuthorization({ provider, clients, accounts }));
    await secured.register(adminClientsRoutes, { clients, provider, events });
    await secured.register(adminFactorsRoutes, { removeFactors: options.removeFactors });
    await secured.register(adminUsersRoutes, { knex: options.knex, accounts, events, mailVerification: options.mailVerification });
    await secured.register(adminOutboxRoutes, { outbox: options.outbox, enqueueEmail: options.enqueueEmail, events });
  });
}
