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

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** The position a cursor names; a 400 naming `cursor` for anything this API did not make. */
export function decodeCursor(cursor: string, isId: (id: string) => boolean = () => true): Position {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && isId(id) && !Number.isNaN(Date.parse(createdAt))) return { createdAt, id };
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
