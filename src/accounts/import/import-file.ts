import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { checkImportLine } from './import-record.ts';
import type { ImportItem } from './import.service.ts';

// An account line is a few hundred bytes; a longer one is no account line.
const MAX_LINE = 64 * 1024;

/**
 * The lines of a `user import --file` file (JSON lines, UTF-8), checked one by one as they are
 * read: readline over a stream, which pauses the file while the import stores a batch, so a
 * file of a million lines is never in memory. Blank lines are passed over; line numbers are
 * the file's own.
 */
export async function* readImportFile(path: string): AsyncGenerator<ImportItem> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of lines) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (!text.trim()) continue;
    if (text.length > MAX_LINE) {
      yield { line, checked: { error: `line longer than ${MAX_LINE} characters` } };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { line, checked: { error: 'not valid JSON' } };
      continue;
    }
    yield { line, checked: checkImportLine(value) };
  }
}
