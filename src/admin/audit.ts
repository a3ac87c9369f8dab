import { hostname, userInfo } from 'node:os';
import type { SecurityEvents, SecurityEventType } from '../security/events.ts';

/**
 * The audit trail of admin changes (issue 11): every change made through the admin API, the
 * CLI or the console is one security event saying who made it (the client, the account and its
 * e-mail address, or `cli` and the machine), what changed (each field before and after; never a
 * secret, which the event log refuses anyway), when (the event's time) and from which address.
 */
export interface AuditActor {
  via: 'api' | 'cli' | 'console';
  /** The client whose token made the call (API), when any. */
  clientId?: string;
  /** The admin's account, when a person acted (a user's token, the console). */
  accountId?: string;
  email?: string;
  ip?: string;
  userAgent?: string;
}

/** The CLI as an actor: the machine and operating-system user it ran as. */
export function cliActor(): AuditActor & { via: 'cli' } {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the host alone.
  }
  return { via: 'cli', ip: undefined, userAgent: `gatehouse-cli (${user ? `${user}@` : ''}${hostname()})` };
}

export type Changes = Record<string, { before: unknown; after: unknown }>;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The fields whose values differ between `before` and `after`, each with both values. */
export function changesOf(before: Record<string, unknown>, after: Record<string, unknown>, fields: string[]): Changes {
  const changes: Changes = {};
  for (const field of fields) {
    if (!same(before[field], after[field])) changes[field] = { before: before[field] ?? null, after: after[field] ?? null };
  }
  return changes;
}

export interface AdminChange {
  /** The account the change is about (a user changed), for `events --user`. */
  accountId?: string | null;
  /** What was changed: `client_id`, `outbox_id`, field names... never a secret. */
  details?: Record<string, unknown>;
  changes?: Changes;
}

/** Records one admin change. */
export async function recordAdminChange(events: Pick<SecurityEvents, 'record'>, type: SecurityEventType, actor: AuditActor, change: AdminChange = {}): Promise<void> {
  await events.record(type, {
    accountId: change.accountId ?? null,
    ip: actor.ip,
    userAgent: actor.userAgent,
    details: {
      by: actor.via,
      ...(actor.clientId ? { by_client: actor.clientId } : {}),
      ...(actor.accountId ? { by_account: actor.accountId } : {}),
      ...(actor.email ? { by_email: actor.email } : {}),
      ...change.details,
    },
    changes: change.changes,
  });
}
