import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { isUuid } from '../db/uuid.ts';
import type { OutboxMessage, OutboxRepo } from '../email/outbox.repo.ts';
import { AppError, ConflictError } from '../errors.ts';
import { parseSince } from '../security/events.cli.ts';
import { ADMIN_OUTBOX_RETRIED, type SecurityEvent, type SecurityEvents } from '../security/events.ts';
import { recordAdminChange } from './audit.ts';
import { apiActor } from './auth.ts';
import { adminError } from './clients.schemas.ts';
import { decodeCursor, pageOf } from './cursor.ts';
import { eventPage, eventsQuery, outboxPage, outboxParams, outboxQuery, outboxView } from './users.schemas.ts';

export interface AdminOutboxOptions {
  outbox: OutboxRepo;
  /** Enqueues the send job of one message (src/jobs/email.jobs.ts). */
  enqueueEmail: (messageId: string) => Promise<void>;
  events: SecurityEvents;
}

const ERRORS = { 400: adminError, 401: adminError, 403: adminError };
const SECURITY = [{ bearer: [] }];
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A message as admins see it: never its data (a sealed link) or its bodies. */
export function outboxItem(m: OutboxMessage) {
  return {
    id: m.id,
    to: m.toAddress,
    template: m.template,
    status: m.status,
    attempts: m.attempts,
    last_error: m.lastError,
    next_attempt_at: m.nextAttemptAt.toISOString(),
    created_at: m.createdAt.toISOString(),
    sent_at: iso(m.sentAt),
    subject: m.subject,
    account_id: m.accountId,
  };
}

export function eventItem(e: SecurityEvent) {
  return { id: e.id, type: e.type, created_at: e.createdAt.toISOString(), account_id: e.accountId, ip: e.ip, user_agent: e.userAgent, details: e.details };
}

/** The e-mail outbox and the security event log under /admin/api (CONTRACT.md "Admin API"), newest first. */
export async function adminOutboxRoutes(scope: FastifyInstance, { outbox, enqueueEmail, events }: AdminOutboxOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/outbox',
    { schema: { tags: ['outbox'], security: SECURITY, summary: 'List e-mail messages, newest first, by cursor', querystring: outboxQuery, response: { 200: outboxPage, ...ERRORS } } },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const before = cursor ? decodeCursor(cursor, isUuid) : undefined;
      const rows = await outbox.page({ status, limit: limit + 1, before });
      return pageOf(rows, limit, (row) => outboxItem(row.message));
    },
  );

  app.post(
    '/outbox/:id/retry',
    {
      schema: {
        tags: ['outbox'],
        security: SECURITY,
        summary: 'Queue a dead or failed message again with fresh attempts (409 for any other)',
        params: outboxParams,
        response: { 200: outboxView, 404: adminError, 409: adminError, ...ERRORS },
      },
    },
    async (request) => {
      const { id } = request.params;
      const found = await outbox.findById(id);
      if (!found) throw new AppError('NOT_FOUND', 404, 'There is no outbox message with this id.');
      const requeued = await outbox.requeue(id);
      if (!requeued) throw new ConflictError('OUTBOX_NOT_RETRYABLE', `This message is ${found.status}; only dead or failed messages are retried.`);
      await recordAdminChange(events, ADMIN_OUTBOX_RETRIED, apiActor(request), {
        accountId: found.accountId,
        details: { outbox_id: id },
        changes: { status: { before: found.status, after: requeued.status } },
      });
      // A failure to enqueue loses nothing: the resend job finds it queued.
      await enqueueEmail(id).catch((err: unknown) => request.log.warn({ err, outboxId: id }, 'could not enqueue a retried e-mail; the resend job will send it'));
      return outboxItem(requeued);
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        security: SECURITY,
        summary: 'Security and admin events, newest first, by cursor; filtered by user, type and time',
        querystring: eventsQuery,
        response: { 200: eventPage, ...ERRORS },
      },
    },
    async (request) => {
      const { user, type, since, limit, cursor } = request.query;
      const position = cursor ? decodeCursor(cursor, (id) => /^\d{1,18}$/.test(id)) : undefined;
      const after = position && { id: Number(position.id), createdAt: new Date(position.createdAt), position: position.createdAt };
      const rows = await events.list({ accountId: user, type, since: since ? parseSince(since) : undefined, limit: limit + 1, after });
      return pageOf(
        rows.map((e) => ({ event: e, position: { createdAt: e.position, id: String(e.id) } })),
        limit,
        (row) => eventItem(row.event),
      );
    },
  );
}
