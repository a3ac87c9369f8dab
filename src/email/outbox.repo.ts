import type { Knex } from 'knex';
import { isUuid } from '../db/uuid.ts';

export const OUTBOX_STATUSES = ['queued', 'sending', 'sent', 'failed', 'dead'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export interface OutboxMessage {
  id: string;
  accountId: string | null;
  toAddress: string;
  toName: string;
  template: string;
  data: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date;
  claimId: string | null;
  lockedUntil: Date | null;
  transport: string | null;
  subject: string | null;
  textBody: string | null;
  htmlBody: string | null;
  messageId: string | null;
  sentAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface OutboxRow {
  id: string;
  account_id: string | null;
  to_address: string;
  to_name: string;
  template: string;
  data: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date;
  claim_id: string | null;
  locked_until: Date | null;
  transport: string | null;
  subject: string | null;
  text_body: string | null;
  html_body: string | null;
  message_id: string | null;
  sent_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

function toMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.id,
    accountId: row.account_id,
    toAddress: row.to_address,
    toName: row.to_name,
    template: row.template,
    data: row.data,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    claimId: row.claim_id,
    lockedUntil: row.locked_until,
    transport: row.transport,
    subject: row.subject,
    textBody: row.text_body,
    htmlBody: row.html_body,
    messageId: row.message_id,
    sentAt: row.sent_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewOutboxMessage {
  accountId: string | null;
  toAddress: string;
  toName: string;
  template: string;
  data: Record<string, unknown>;
}

export interface Delivery {
  transport: string;
  subject: string;
  messageId: string | null;
  textBody: string | null;
  htmlBody: string | null;
}


/**
 * The e-mail outbox. Every state change after `insert` is one conditional UPDATE, so two
 * workers can never both own a message: `claim` moves it to `sending` only if it is due (or its
 * previous owner's lease ran out), and the outcome is recorded only by the claim that owns it.
 */
export function createOutboxRepo(knex: Knex) {
  return {
    async insert(m: NewOutboxMessage, trx: Knex = knex): Promise<OutboxMessage> {
      const [row] = (await trx('email_outbox')
        .insert({ account_id: m.accountId, to_address: m.toAddress, to_name: m.toName, template: m.template, data: JSON.stringify(m.data) })
        .returning('*')) as OutboxRow[];
      return toMessage(row!);
    },

    async findById(id: string): Promise<OutboxMessage | undefined> {
      if (!isUuid(id)) return undefined;
      const row = (await knex('email_outbox').where({ id }).first()) as OutboxRow | undefined;
      return row ? toMessage(row) : undefined;
    },

    /**
     * Takes a message for sending if it is due: queued or failed with its retry time reached,
     * or left `sending` by a worker whose lease has expired (killed mid-send). Counts the attempt.
     */
    async claim(id: string, leaseSeconds: number): Promise<OutboxMessage | undefined> {
      if (!isUuid(id)) return undefined;
      const rows = (await knex('email_outbox')
        .where({ id })
        .where((w) =>
          w
            .where((q) => q.whereIn('status', ['queued', 'failed']).where('next_attempt_at', '<=', knex.fn.now()))
            .orWhere((q) => q.where('status', 'sending').where('locked_until', '<', knex.fn.now())),
        )
        .update({
          status: 'sending',
          attempts: knex.raw('attempts + 1'),
          claim_id: knex.raw('gen_random_uuid()'),
          locked_until: knex.raw(`now() + make_interval(secs => ?)`, [leaseSeconds]),
          updated_at: knex.fn.now(),
        })
        .returning('*')) as OutboxRow[];
      return rows[0] ? toMessage(rows[0]) : undefined;
    },

    /** Ids of messages the resend job should try: failed and due, stale claims, queued but never sent. */
    async dueIds({ limit, queuedGraceSeconds }: { limit: number; queuedGraceSeconds: number }): Promise<string[]> {
      const rows = (await knex('email_outbox')
        .where((w) =>
          w
            .where((q) => q.where('status', 'failed').where('next_attempt_at', '<=', knex.fn.now()))
            .orWhere((q) => q.where('status', 'sending').where('locked_until', '<', knex.fn.now()))
            .orWhere((q) =>
              q.where('status', 'queued').where('next_attempt_at', '<=', knex.raw(`now() - make_interval(secs => ?)`, [queuedGraceSeconds])),
            ),
        )
        .orderBy('next_attempt_at')
        .limit(limit)
        .select('id')) as { id: string }[];
      return rows.map((r) => r.id);
    },

    /** Records a delivery; `scrub` names data keys that must not outlive it (sealed link tokens). */
    async markSent(id: string, claimId: string, d: Delivery, scrub: string[]): Promise<boolean> {
      const updated = await knex('email_outbox')
        .where({ id, claim_id: claimId, status: 'sending' })
        .update({
          status: 'sent',
          transport: d.transport,
          subject: d.subject,
          message_id: d.messageId,
          text_body: d.textBody,
          html_body: d.htmlBody,
          data: knex.raw('data - ?::text[]', [scrub]),
          last_error: null,
          locked_until: null,
          sent_at: knex.fn.now(),
          updated_at: knex.fn.now(),
        });
      return updated === 1;
    },

    async markFailed(id: string, claimId: string, error: string, retryInSeconds: number): Promise<boolean> {
      const updated = await knex('email_outbox')
        .where({ id, claim_id: claimId, status: 'sending' })
        .update({
          status: 'failed',
          last_error: error,
          locked_until: null,
          next_attempt_at: knex.raw(`now() + make_interval(secs => ?)`, [retryInSeconds]),
          updated_at: knex.fn.now(),
        });
      return updated === 1;
    },

    async markDead(id: string, claimId: string, error: string): Promise<boolean> {
      const updated = await knex('email_outbox')
        .where({ id, claim_id: claimId, status: 'sending' })
        .update({ status: 'dead', last_error: error, locked_until: null, updated_at: knex.fn.now() });
      return updated === 1;
    },

    /** A dead or failed message back to the queue with fresh attempts; undefined when it is neither. */
    async requeue(id: string): Promise<OutboxMessage | undefined> {
      if (!isUuid(id)) return undefined;
      const rows = (await knex('email_outbox')
        .where({ id })
        .whereIn('status', ['dead', 'failed'])
        .update({ status: 'queued', attempts: 0, next_attempt_at: knex.fn.now(), claim_id: null, updated_at: knex.fn.now() })
        .returning('*')) as OutboxRow[];
      return rows[0] ? toMessage(rows[0]) : undefined;
    },

    /** Newest first. */
    async list({ status, limit = 1000, offset = 0 }: { status?: OutboxStatus; limit?: number; offset?: number } = {}): Promise<OutboxMessage[]> {
      const q = knex('email_outbox').orderBy('created_at', 'desc').orderBy('id').limit(limit).offset(offset);
      if (status) q.where({ status });
      return ((await q) as OutboxRow[]).map(toMessage);
    },

    /**
     * One page, newest first (then id): `before` is the last row's position (an ISO instant with
     * microseconds, and its id), so messages recorded meanwhile never push a row onto two pages.
     */
    async page({ status, limit, before }: { status?: OutboxStatus; limit: number; before?: { createdAt: string; id: string } }) {
      const q = knex('email_outbox')
        .select('*', knex.raw(`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position`))
        .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
        .limit(limit);
      if (status) q.where({ status });
      if (before) q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [before.createdAt, before.id]);
      const rows = (await q) as (OutboxRow & { position: string })[];
      return rows.map((row) => ({ message: toMessage(row), position: { createdAt: row.position, id: row.id } }));
    },

    /** How many messages wait to be sent: queued, failed and to be retried, or being sent. */
    async backlog(): Promise<number> {
      const row = (await knex('email_outbox').whereIn('status', ['queued', 'failed', 'sending']).count({ n: '*' }).first()) as { n: number | string };
      return Number(row.n);
    },

    /** Messages delivered to the dev mailbox, newest first. */
    async mailbox(limit = 200): Promise<OutboxMessage[]> {
      const rows = (await knex('email_outbox')
        .where({ status: 'sent', transport: 'mailbox' })
        .orderBy('sent_at', 'desc')
        .orderBy('id')
        .limit(limit)) as OutboxRow[];
      return rows.map(toMessage);
    },

    /** Whether a message of these templates was recorded for this account within the interval. */
    async recordedRecently(accountId: string, templates: string[], withinSeconds: number, trx: Knex = knex): Promise<boolean> {
      const row = await trx('email_outbox')
        .where({ account_id: accountId })
        .whereIn('template', templates)
        .where('created_at', '>', trx.raw(`now() - make_interval(secs => ?)`, [withinSeconds]))
        .first('id');
      return Boolean(row);
    },
  };
}

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
