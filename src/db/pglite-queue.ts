import type { PGlite } from '@electric-sql/pglite';

/**
 * The order in which PGlite (one Postgres backend, in this process) serves the connections
 * pglite-socket accepts.
 *
 * pglite-socket's own queue interleaves connections message by message outside transactions.
 * The `pg` driver sends every parameterised query as Parse, Bind, Execute, Sync; when another
 * connection's Parse lands between them, PGlite's single unnamed statement is replaced and
 * the first query fails ("unnamed prepared statement does not exist"). That is what happened
 * under concurrent requests. This queue gives the backend to one connection from its first
 * extended-protocol message until its Sync, and for as long as that connection has a
 * transaction open. It plugs into pglite-socket's PGLiteSocketHandler (`queryQueue` option),
 * which still does the wire framing, and is small enough to read in one go; pglite-socket
 * offers no option for this.
 */

interface Pending {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

// Frontend messages that continue an extended-protocol exchange until Sync ('S').
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));

export class ExclusiveQueryQueue {
  #db: PGlite;
  #queue: Pending[] = [];
  #processing = false;
  /** The connection that holds the backend, or null when any may take it. */
  #owner: number | null = null;

  constructor(db: PGlite) {
    this.#db = db;
  }

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ handlerId, message, onData, resolve, reject });
      void this.#process();
    });
  }

  async #process() {
    if (this.#processing) return;
    this.#processing = true;
    try {
      while (this.#queue.length > 0) {
        const index = this.#owner === null ? 0 : this.#queue.findIndex((p) => p.handlerId === this.#owner);
        if (index === -1) break; // the owner's next message has not arrived yet
        const [item] = this.#queue.splice(index, 1) as [Pending];
        let bytes = 0;
        try {
          await this.#db.runExclusive(() =>
            this.#db.execProtocolRawStream(item.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          this.#owner = null;
          item.reject(err as Error);
          continue;
        }
        const type = item.message[0]!;
        this.#owner = EXTENDED.has(type) || this.#db.isInTransaction() ? item.handlerId : null;
        item.resolve(bytes);
      }
    } finally {
      this.#processing = false;
    }
  }

  /** A connection went away: drop what it queued. */
  clearQueueForHandler(handlerId: number) {
    this.#queue = this.#queue.filter((p) => {
      if (p.handlerId !== handlerId) return true;
      p.reject(new Error('connection closed'));
      return false;
    });
  }

  /** A connection went away while holding the backend: roll its transaction back, free it. */
  async clearTransactionIfNeeded(handlerId: number) {
    if (this.#owner !== handlerId) return;
    if (this.#db.isInTransaction()) await this.#db.exec('ROLLBACK');
    this.#owner = null;
    await this.#process();
  }

  getQueueLength() {
    return this.#queue.length;
  }
}
