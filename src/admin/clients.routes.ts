import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { ClientMetadata, ClientsRepo } from '../oidc/clients.repo.ts';
import { createClient, rotateClientSecret, updateClient } from '../oidc/clients.service.ts';
import {
  ADMIN_CLIENT_CREATED,
  ADMIN_CLIENT_DELETED,
  ADMIN_CLIENT_SECRET_ROTATED,
  ADMIN_CLIENT_UPDATED,
  type SecurityEvents,
  type SecurityEventType,
} from '../security/events.ts';
import { changesOf, recordAdminChange, type Changes } from './audit.ts';
import { apiActor } from './auth.ts';
import { decodeCursor, pageOf } from './cursor.ts';
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

/** The errors every route may answer, for the OpenAPI document. */
const ERRORS = { 400: adminError, 401: adminError, 403: adminError };
const TAGS = ['clients'];
const SECURITY = [{ bearer: [] }];

/** Clients under /admin/api/clients (CONTRACT.md "Admin API"); the caller is an admin already (auth.ts). */
export async function adminClientsRoutes(scope: FastifyInstance, { clients, provider, events }: AdminClientsOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const store = { clients, provider };

  /** One audit event per change: who, which client, which fields (and for an update their values before and after; never a secret). */
  const audit = (request: FastifyRequest, type: SecurityEventType, clientId: string, fields?: string[], changes?: Changes) =>
    recordAdminChange(events, type, apiActor(request), { accountId: request.admin?.accountId, details: { client_id: clientId, ...(fields ? { fields } : {}) }, changes });

  app.get(
    '/clients',
    { schema: { tags: TAGS, security: SECURITY, summary: 'List clients, oldest first, by cursor', querystring: listQuery, response: { 200: clientPage, ...ERRORS } } },
    async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor) : undefined;
      // One more than asked tells whether there is a next page.
      const rows = await clients.page({ limit: limit + 1, after: after && { createdAt: after.createdAt, clientId: after.id } });
      const positioned = rows.map((row) => ({ client: row.client, position: { createdAt: row.position.createdAt, id: row.position.clientId } }));
      return pageOf(positioned, limit, (row) => row.client as z.infer<typeof clientView>);
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
      const before = await clients.find(request.params.client_id);
      const updated: ClientMetadata | undefined = before && (await updateClient(store, request.params.client_id, request.body));
      if (!before || !updated) throw new ClientNotFoundError();
      const fields = Object.keys(request.body);
      await audit(request, ADMIN_CLIENT_UPDATED, updated.client_id, fields, changesOf(before, updated, fields));
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
