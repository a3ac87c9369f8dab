import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';

const IN_MEMORY = 1000;

/**
 * The `errors` of an import summary. A file of a million duplicates (a second run) has a
 * million errors: past the first thousand they wait in a temporary file, so memory stays
 * bounded while the summary still lists every one.
 */
export class ErrorSpool {
  count = 0;
  #pending: string[] = [];
  #dir: string | undefined;
  #fd: number | undefined;

  add(line: number, error: string) {
    this.#pending.push(`${this.count === 0 ? '' : ','}${JSON.stringify({ line, error })}`);
    this.count++;
    if (this.#pending.length >= IN_MEMORY) this.#spill();
  }

  #spill() {
    if (this.#fd === undefined) {
      this.#dir = mkdtempSync(join(tmpdir(), 'gatehouse-import-'));
      this.#fd = openSync(join(this.#dir, 'errors'), 'w+', 0o600);
    }
    writeSync(this.#fd, this.#pending.join(''));
    this.#pending = [];
  }

  /** Writes `{"imported": n, "skipped": n, "errors": [...]}` and a newline to `out`. */
  async writeSummary(out: Writable, counts: { imported: number; skipped: number }) {
    out.write(`{"imported":${counts.imported},"skipped":${counts.skipped},"errors":[`);
    if (this.#fd !== undefined) {
      this.#spill();
      await pipeline(createReadStream(join(this.#dir!, 'errors')), out, { end: false });
    } else {
      out.write(this.#pending.join(''));
    }
    out.write(']}\n');
  }

  /** Removes the temporary file, if any. */
  close() {
    if (this.#fd !== undefined) closeSync(this.#fd);
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#fd = undefined;
    this.#dir = undefined;
  }
}
