import { ValidationError } from '../errors.ts';

/**
 * The admin API's paging cursors: opaque to callers, the last row's position (an ISO instant
 * with microseconds, then the row's id) as base64url JSON. Every list resumes after that row,
 * so rows inserted between pages are neither repeated nor skipped.
 */
export interface Position {
  createdAt: string;
  id: string;
}

// Exactly what the repos' positions look like: anything else could reach Postgres as a bad timestamp.
const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** The position a cursor names; a 400 naming `cursor` for anything this API did not make. */
// A client id as stored: printable, bounded (a NUL would fail the query rather than match nothing).
// eslint-disable-next-line no-control-regex
const plainId = (id: string) => id.length > 0 && id.length <= 200 && !/[\u0000-\u001f\u007f]/.test(id);

export function decodeCursor(cursor: string, isId: (id: string) => boolean = plainId): Position {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && isId(id) && INSTANT_RE.test(createdAt) && !Number.isNaN(Date.parse(createdAt))) return { createdAt, id };
  } catch {
    // Falls through to the one answer for any cursor we did not make.
  }
  throw new ValidationError({ cursor: 'is not a cursor this API gave' }, 'cursor: is not a cursor this API gave');
}

/** One page of rows fetched with one extra (which says a next page exists): items and next cursor. */
export function pageOf<R extends { position: Position }, T>(rows: R[], limit: number, view: (row: R) => T): { items: T[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  return { items: page.map(view), next_cursor: rows.length > limit ? encodeCursor(page.at(-1)!.position) : null };
}
