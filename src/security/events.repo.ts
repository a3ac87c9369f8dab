import type { Knex } from 'knex';

/** A stored security event. */
export interface SecurityEvent {
  id: number;
  type: string;
  accountId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
  /** `createdAt` as an ISO instant with Postgres' microseconds (a Date rounds them off): where paging resumes. */
  position: string;
}

export interface NewSecurityEvent {
  type: string;
  accountId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

export interface SecurityEventFilter {
  accountId?: string;
  type?: string;
  /** Events at or after this instant. */
  since?: Date;
  /** Events listed before this one (newest first): the last event of the previous page. */
  before?: { createdAt: Date; id: number; position?: string };
  limit: number;
}

interface Row {
  id: number;
  type: string;
  account_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
  created_at: Date;
  position?: string;
}

const TABLE = 'security_events';
const POSITION = `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position`;

function fromRow(row: Row): SecurityEvent {
  return {
    id: row.id,
    type: row.type,
    accountId: row.account_id,
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details,
    createdAt: row.created_at,
    // Inserting returns no position: the millisecond instant is what a new event has to show.
    position: row.position ?? row.created_at.toISOString(),
  };
}

/** SQL of the security event log (migrations/20261124000400_security_events.ts). */
export function createSecurityEventsRepo(knex: Knex) {
  return {
    async insert(event: NewSecurityEvent): Promise<SecurityEvent> {
      const [row] = await knex<Row>(TABLE)
        .insert({
          type: event.type,
          account_id: event.accountId,
          ip: event.ip,
          user_agent: event.userAgent,
          details: JSON.stringify(event.details) as unknown as Row['details'],
        })
        .returning('*');
      return fromRow(row as Row);
    },

    /** Newest first: by time, then by id among events of the same millisecond. */
    async list(filter: SecurityEventFilter): Promise<SecurityEvent[]> {
      const q = knex<Row>(TABLE).select('*', knex.raw(POSITION));
      if (filter.accountId) q.where('account_id', filter.accountId);
      if (filter.type) q.where('type', filter.type);
      if (filter.since) q.where('created_at', '>=', filter.since);
      if (filter.before) q.whereRaw('(created_at, id) < (?::timestamptz, ?::bigint)', [filter.before.position ?? filter.before.createdAt, filter.before.id]);
      const rows = (await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(filter.limit)) as Row[];
      return rows.map(fromRow);
    },

    /** Deletes events created before `cutoff`; returns how many. */
    async deleteBefore(cutoff: Date): Promise<number> {
      return knex(TABLE).where('created_at', '<', cutoff).delete();
    },
  };
}

export type SecurityEventsRepo = ReturnType<typeof createSecurityEventsRepo>;
