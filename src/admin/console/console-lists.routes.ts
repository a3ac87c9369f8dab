import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { isUuid } from '../../db/uuid.ts';
import { OUTBOX_STATUSES, type OutboxRepo, type OutboxStatus } from '../../email/outbox.repo.ts';
import { AppError, NotFoundError } from '../../errors.ts';
import { formBody, formText, queryText } from '../../http/schemas.ts';
import { translate } from '../../http/views.ts';
import type { ClientsRepo } from '../../oidc/clients.repo.ts';
import { registerClient } from '../../oidc/clients.service.ts';
import { page } from '../../pages/page.ts';
import { ADMIN_CLIENT_CREATED, ADMIN_OUTBOX_RETRIED, isSecurityEventType, type SecurityEvents } from '../../security/events.ts';
import { recordAdminChange } from '../audit.ts';
import { decodeCursor, pageOf } from '../cursor.ts';
import type { ConsoleAuth } from './console-auth.ts';
import { CONSOLE_TEMPLATES, consoleView, eventRow, nextLink, outboxRow } from './console.view.ts';

export interface ConsoleListOptions {
  auth: ConsoleAuth;
  clients: ClientsRepo;
  provider: Provider;
  outbox: OutboxRepo;
  enqueueEmail: (messageId: string) => Promise<void>;
  events: SecurityEvents;
}

const PAGE_SIZE = 50;
const cursorText = queryText.max(500).optional();
const createBody = formBody({ client_name: formText.optional(), redirect_uris: formText.optional(), public: formText.optional(), first_party: formText.optional() });

/** The console's clients, outbox and event log: lists with paging, client creation, outbox retry. */
export async function consoleListRoutes(scope: FastifyInstance, { auth, clients, provider, outbox, enqueueEmail, events }: ConsoleListOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const view = (request: Parameters<ConsoleAuth['adminOf']>[0], section: 'clients' | 'outbox' | 'events', extra: Record<string, unknown>) =>
    consoleView(section, auth.adminOf(request).email, extra);

  async function clientsPage(cursor: string | undefined) {
    const after = cursor ? decodeCursor(cursor) : undefined;
    const rows = await clients.page({ limit: PAGE_SIZE + 1, after: after && { createdAt: after.createdAt, clientId: after.id } });
    const { items, next_cursor: next } = pageOf(
      rows.map((r) => ({ client: r.client, position: { createdAt: r.position.createdAt, id: r.position.clientId } })),
      PAGE_SIZE,
      ({ client }) => ({ id: client.client_id, name: client.client_name, redirectUris: ((client.redirect_uris as string[] | undefined) ?? []).join(' '), firstParty: client.first_party, public: client.token_endpoint_auth_method === 'none' }),
    );
    return { clients: items, next: nextLink('/admin/clients', {}, next) };
  }

  app.get('/admin/clients', { schema: { querystring: z.looseObject({ cursor: cursorText }) } }, async (request, reply) =>
    page(reply, CONSOLE_TEMPLATES.clients, view(request, 'clients', { ...(await clientsPage(request.query.cursor)), values: {}, fields: {} })),
  );

  app.post('/admin/clients', { schema: { body: createBody } }, async (request, reply) => {
    const body = request.body;
    let created;
    try {
      created = await registerClient(
        { clients, provider },
        {
          name: body.client_name ?? '',
          redirectUris: (body.redirect_uris ?? '').split(/\s+/).filter(Boolean),
          public: body.public === 'on',
          firstParty: body.first_party === 'on',
        },
      );
    } catch (err) {
      if (!(err instanceof AppError) || err.statusCode !== 400) throw err;
      const field = err.fields && Object.keys(err.fields)[0];
      const values = { client_name: body.client_name, redirect_uris: body.redirect_uris };
      const fields = field ? { [field]: err.fields![field] } : {};
      return page(reply, CONSOLE_TEMPLATES.clients, view(request, 'clients', { ...(await clientsPage(undefined)), error: err.message, fields, values }), 400);
    }
    const fieldsSet = Object.keys(created).filter((k) => k !== 'client_id' && k !== 'client_secret');
    await recordAdminChange(events, ADMIN_CLIENT_CREATED, auth.consoleActor(request), { accountId: auth.adminOf(request).id, details: { client_id: created.client_id, fields: fieldsSet } });
    // The secret is shown on this page, this once: it is not stored anywhere it could be shown again.
    return page(reply, CONSOLE_TEMPLATES.clientCreated, view(request, 'clients', { client: { id: created.client_id, name: created.client_name, secret: created.client_secret } }), 201);
  });

  app.get('/admin/outbox', { schema: { querystring: z.looseObject({ status: z.enum(OUTBOX_STATUSES).optional(), cursor: cursorText }) } }, async (request, reply) => {
    const { status, cursor } = request.query;
    const rows = await outbox.page({ status: status as OutboxStatus | undefined, limit: PAGE_SIZE + 1, before: cursor ? decodeCursor(cursor, isUuid) : undefined });
    const { items, next_cursor: next } = pageOf(rows, PAGE_SIZE, (row) => outboxRow(row.message));
    const statuses = OUTBOX_STATUSES.map((s) => ({ value: s, href: `/admin/outbox?status=${s}`, current: s === status }));
    return page(reply, CONSOLE_TEMPLATES.outbox, view(request, 'outbox', { messages: items, statuses, status, next: nextLink('/admin/outbox', { status }, next) }));
  });

  app.post('/admin/outbox/:id/retry', { schema: { params: z.object({ id: z.string().max(200) }), body: formBody({}) } }, async (request, reply) => {
    const found = await outbox.findById(request.params.id);
    if (!found) throw new NotFoundError();
    const requeued = await outbox.requeue(found.id);
    if (!requeued) throw new AppError('OUTBOX_NOT_RETRYABLE', 409, translate('admin.outbox.not_retryable'));
    await recordAdminChange(events, ADMIN_OUTBOX_RETRIED, auth.consoleActor(request), {
      accountId: found.accountId,
      details: { outbox_id: found.id },
      changes: { status: { before: found.status, after: requeued.status } },
    });
    await enqueueEmail(found.id).catch((err: unknown) => request.log.warn({ err, outboxId: found.id }, 'could not enqueue a retried e-mail; the resend job will send it'));
    return reply.redirect('/admin/outbox', 303);
  });

  app.get('/admin/events', { schema: { querystring: z.looseObject({ type: queryText.max(100).optional(), user: queryText.max(100).optional(), cursor: cursorText }) } }, async (request, reply) => {
    const { cursor } = request.query;
    const type = request.query.type && isSecurityEventType(request.query.type) ? request.query.type : undefined;
    const user = request.query.user && isUuid(request.query.user) ? request.query.user : undefined;
    const position = cursor ? decodeCursor(cursor, (id) => /^\d{1,18}$/.test(id)) : undefined;
    const after = position && { id: Number(position.id), createdAt: new Date(position.createdAt), position: position.createdAt };
    const rows = await events.list({ type, accountId: user, limit: PAGE_SIZE + 1, after });
    const { items, next_cursor: next } = pageOf(
      rows.map((e) => ({ event: e, position: { createdAt: e.position, id: String(e.id) } })),
      PAGE_SIZE,
      (row) => eventRow(row.event),
    );
    return page(reply, CONSOLE_TEMPLATES.events, view(request, 'events', { events: items, type, user, next: nextLink('/admin/events', { type, user }, next) }));
  });
}
