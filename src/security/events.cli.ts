import { parseArgs } from 'node:util';
import { isUuid } from '../db/uuid.ts';
import type { Runtime } from '../runtime.ts';
import { createSecurityEvents, isSecurityEventType, SECURITY_EVENT_TYPES, type SecurityEvent } from './events.ts';

/**
 * `npx gatehouse events [--user ID] [--type T] [--since ISO-8601]` (CONTRACT.md): security
 * events as JSON lines, newest first, every matching one (read page by page, so a long log
 * does not have to fit in memory).
 */

/** Bad command-line input: the CLI prints its message as one line and exits non-zero. */
export class EventsUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventsUsageError';
  }
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const PAGE = 500;

/**
 * An ISO-8601 date (`2026-11-24`, midnight UTC) or date and time (`2026-11-24T10:00:00Z`;
 * without an offset, local time). Refuses what `Date` would quietly roll over (`2026-02-30`)
 * or guess at (`1`, `yesterday`).
 */
export function parseSince(value: string): Date {
  const problem = () => new EventsUsageError(`--since: got ${JSON.stringify(value)}, expected an ISO-8601 date or time such as 2026-11-24 or 2026-11-24T10:00:00Z`);
  const m = ISO_RE.exec(value.trim());
  if (!m) throw problem();
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = m;
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw problem();
  const date = new Date(value.trim().replace(' ', 'T'));
  if (Number.isNaN(date.getTime())) throw problem();
  return date;
}

/** One event as the CLI prints it: snake_case like the rest of the CLI's JSON. */
function toJson(e: SecurityEvent) {
  return {
    id: e.id,
    type: e.type,
    created_at: e.createdAt.toISOString(),
    account_id: e.accountId,
    ip: e.ip,
    user_agent: e.userAgent,
    details: e.details,
  };
}

/** Runs `gatehouse events ...`, writing one JSON line per event. */
export async function eventsCommand(runtime: Runtime, args: string[], write: (line: string) => void = (line) => process.stdout.write(line)): Promise<void> {
  let values: { user?: string; type?: string; since?: string };
  try {
    ({ values } = parseArgs({ args, options: { user: { type: 'string' }, type: { type: 'string' }, since: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new EventsUsageError((err as Error).message);
  }
  if (values.user !== undefined && !isUuid(values.user)) {
    throw new EventsUsageError(`--user: got ${JSON.stringify(values.user)}, expected an account id (a UUID)`);
  }
  if (values.type !== undefined && !isSecurityEventType(values.type)) {
    throw new EventsUsageError(`--type: got ${JSON.stringify(values.type)}, expected one of ${SECURITY_EVENT_TYPES.join(', ')}`);
  }
  const since = values.since === undefined ? undefined : parseSince(values.since);
  // Listing logs nothing; the CLI keeps stdout for the events.
  const events = createSecurityEvents({ knex: runtime.database.knex, log: { info() {}, error() {} } });
  let after: SecurityEvent | undefined;
  for (;;) {
    const page = await events.list({ accountId: values.user, type: values.type, since, limit: PAGE, after });
    for (const e of page) write(`${JSON.stringify(toJson(e))}\n`);
    if (page.length < PAGE) break;
    after = page.at(-1);
  }
}
