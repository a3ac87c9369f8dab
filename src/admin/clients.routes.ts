import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { AppError, ValidationError } from '../errors.ts';
import type { ClientMetadata, ClientPosition, ClientsRepo } from '../oidc/clients.repo.ts';
import { createClient, rotateClientSecret, updateClient } from '../oidc/clients.service.ts';
import {
  ADMIN_CLIENT_CREATED,
  ADMIN_CLIENT_DELETED,
  ADMIN_CLIENT_SECRET_ROTATED,
  ADMIN_CLIENT_UPDATED,
  requestContext,
  type SecurityEvents,
  type SecurityEventType,
} from '../security/events.ts';
import {
  adminError,
  clientPage,
  clientParams,
  clientView,
  clientWithSecret,
  createClientBody,
  listQuery,
  secretAnswer,
  updateClientBody,
} from './clients.schemas.ts';

export interface AdminClientsOptions {
  clients: ClientsRepo;
  provider: Provider;
  events: SecurityEvents;
}

class ClientNotFoundError extends AppError {
  constructor() {
    super('NOT_FOUND', 404, 'There is no client with this id.');
  }
}

/** The cursor is opaque to callers: the last row's position, base64url JSON. */
function encodeCursor(position: ClientPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.clientId])).toString('base64url');
}

function decodeCursor(cursor: string): ClientPosition {
  try {
    const [createdAt, clientId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof clientId === 'string' && !Number.isNaN(Date.parse(createdAt))) return { createdAt, clientId };
  } catch {
    // Falls through to the one answer for any cursor we did not make.
  }
  throw new ValidationError({ cursor: 'is not a cursor this API gave' }, 'cursor: is not a cursor this API gave');
}

/** The errors every route may answer, for the OpenAPI document. */
const ERRORS = { 400: adminError, 401: adminError, 403: adminError };
const TAGS = ['clients'];
const SECURITY = [{ bearer: [] }];

/** Clients under /admin/api/clients (CONTRACT.md "Admin API"); the caller is an admin already (auth.ts). */
export async function adminClientsRoutes(scope: FastifyInstance, { clients, provider, events }: AdminClientsOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const store = { clients, provider };

  /** One audit event per change: who, which client, which fields (names only, never values). */
  const audit = (request: FastifyRequest, type: SecurityEventType, clientId: string, fields?: string[]) =>
    events.record(type, {
      ...requestContext(request),
      accountId: request.admin?.accountId ?? null,
      details: { client_id: clientId, by_client: request.admin?.clientId, by_account: request.admin?.accountId, ...(fields ? { fields } : {}) },
    });

  app.get(
    '/clients',
    { schema: { tags: TAGS, security: SECURITY, summary: 'List clients, oldest first, by cursor', querystring: listQuery, response: { 200: clientPage, ...ERRORS } } },
    async (request) => {
      const { limit, cursor } = request.query;
      // One more than asked tells whether there is a next page.
      const rows = await clients.page({ limit: limit + 1, after: cursor ? decodeCursor(cursor) : undefined });
      const page = rows.slice(0, limit);
      const next = rows.length > limit ? encodeCursor(page.at(-1)!.position) : null;
      return { items: page.map((row) => row.client as z.infer<typeof clientView>), next_cursor: next };
    },
  );

  app.post(
    '/clients',
    { schema: { tags: TAGS, security: SECURITY, summary: 'Create a client; a confidential client\'s secret is shown this once', body: createClientBody, response: { 201: clientWithSecret, ...ERRORS } } },
    async (request, reply) => {
      const created = await createClient(store, request.body);
      await audit(request, ADMIN_CLIENT_CREATED, created.client_id, Object.keys(request.body));
      return reply.code(201).send(created as z.infer<typeof clientWithSecret>);
    },
  );

  app.get(
    '/clients/:client_id',
    { schema: { tags: TAGS, security: SECURITY, summary: 'Read a client', params: clientParams, response: { 200: clientView, 404: adminError, ...ERRORS } } },
    async (request) => {
      const client = await clients.find(request.params.client_id);
      if (!client) throw new ClientNotFoundError();
      return client as z.infer<typeof clientView>;
    },
  );

  app.patch(
    '/clients/:client_id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Change a client\'s metadata; a client made confidential gets its secret in this answer',
        params: clientParams,
        body: updateClientBody,
        response: { 200: clientWithSecret, 404: adminError, ...ERRORS },
      },
    },
    async (request) => {
      const updated: ClientMetadata | undefined = await updateClient(store, request.params.client_id, request.body);
      if (!updated) throw new ClientNotFoundError();
      await audit(request, ADMIN_CLIENT_UPDATED, updated.client_id, Object.keys(request.body));
      return updated as z.infer<typeof clientWithSecret>;
    },
  );

  app.delete(
    '/clients/:client_id',
    { schema: { tags: TAGS, security: SECURITY, summary: 'Delete a client', params: clientParams, response: { 204: z.null().describe('deleted'), 404: adminError, ...ERRORS } } },
    async (request, reply) => {
      if (!(await clients.delete(request.params.client_id))) throw new ClientNotFoundError();
      await audit(request, ADMIN_CLIENT_DELETED, request.params.client_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/clients/:client_id/secret',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Rotate a confidential client\'s secret: the old one stops working at once',
        params: clientParams,
        response: { 200: secretAnswer, 404: adminError, ...ERRORS },
      },
    },
    async (request) => {
      const { client_id: clientId } = request.params;
      const secret = await rotateClientSecret(store, clientId);
      if (!secret) {
        if (await clients.find(clientId)) throw new AppError('PUBLIC_CLIENT', 409, 'A public client has no secret to rotate.');
        throw new ClientNotFoundError();
      }
      await audit(request, ADMIN_CLIENT_SECRET_ROTATED, clientId);
      return { client_id: clientId, client_secret: secret };
    },
  );
}
