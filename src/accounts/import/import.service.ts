import type { Knex } from 'knex';
import { ErrorSpool } from './error-spool.ts';
import type { Checked, ImportAccount } from './import-record.ts';
import { accountsTarget, dryRunTarget, type ImportTarget } from './import.repo.ts';

/** One input line (or Django row) and what checking it gave. */
export interface ImportItem {
  /** The file's line number, or the Django user's auth_user id: what the summary's errors name. */
  line: number;
  checked: Checked;
}

export interface ImportProgress {
  /** Items (lines, Django users) read so far. */
  read: number;
  imported: number;
  skipped: number;
}

export interface ImportOptions {
  /** Check every line against the database, store nothing. */
  dryRun?: boolean;
  /**
   * What to do with a username someone else has: refuse the line (`error`, for files, where
   * the admin chose it) or import the account without it (`drop`, for Django, whose usernames
   * are case-sensitive where ours are not; the user signs in with the e-mail address).
   */
  takenUsername?: 'error' | 'drop';
  /** Accounts per INSERT, one transaction each. */
  batchSize?: number;
  /** Call `onProgress` each time this many more items have been read. */
  progressEvery?: number;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportResult {
  imported: number;
  /** Lines not imported: each has its reason in `errors`. */
  skipped: number;
  /** Usernames left out under `takenUsername: 'drop'`. */
  usernamesDropped: number;
  errors: ErrorSpool;
}

export const EMAIL_TAKEN = 'an account with this e-mail address already exists';
export const USERNAME_TAKEN = 'the username is already taken';

interface Pending {
  line: number;
  account: ImportAccount;
}

// Postgres error classes that belong to one row (22 data exception, 23 integrity, 54 limit):
// that line is reported; anything else (the database going away) stops the import.
function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/**
 * Imports accounts as they stream in (src/accounts/import/import.cli.ts reads them): batches
 * of `batchSize` accounts, each one INSERT in its own transaction, so that memory does not
 * grow with the file and a failure loses at most one batch. Refused lines become errors, in
 * line order; nothing else stops the run. Running it again imports nothing twice: every
 * account it made is then an e-mail address that exists.
 */
export async function importAccounts(knex: Knex, items: AsyncIterable<ImportItem>, options: ImportOptions = {}): Promise<ImportResult> {
  const { dryRun = false, takenUsername = 'error', batchSize = 1000, progressEvery = 10_000, onProgress } = options;
  const target = dryRun ? await dryRunTarget(knex) : accountsTarget(knex);
  const errors = new ErrorSpool();
  const result: ImportResult = { imported: 0, skipped: 0, usernamesDropped: 0, errors };
  let batch: ImportItem[] = [];
  let accounts = 0;
  let read = 0;
  let nextProgress = progressEvery;

  async function flush() {
    const refused = await store(target, batch, takenUsername, result);
    for (const item of batch) {
      const error = 'error' in item.checked ? item.checked.error : refused.get(item.line);
      if (error !== undefined) errors.add(item.line, error);
    }
    result.skipped = errors.count;
    batch = [];
    accounts = 0;
    if (onProgress && read >= nextProgress) {
      onProgress({ read, imported: result.imported, skipped: result.skipped });
      nextProgress = (Math.floor(read / progressEvery) + 1) * progressEvery;
    }
  }

  try {
    for await (const item of items) {
      read++;
      batch.push(item);
      if ('account' in item.checked) accounts++;
      // Refused lines count too, so that a file of nothing but errors still flushes.
      if (accounts >= batchSize || batch.length >= batchSize * 4) await flush();
    }
    await flush();
  } catch (err) {
    errors.close();
    throw err;
  } finally {
    await target.close();
  }
  return result;
}

/** Stores one batch; returns the lines refused, with why. */
async function store(target: ImportTarget, batch: ImportItem[], takenUsername: 'error' | 'drop', result: ImportResult): Promise<Map<number, string>> {
  const refused = new Map<number, string>();
  // Duplicates inside the batch, found here so that every stored row answers for one line.
  const emails = new Map<string, number>();
  const usernames = new Map<string, number>();
  const pending: Pending[] = [];
  for (const item of batch) {
    if (!('account' in item.checked)) continue;
    const account = item.checked.account;
    const sameEmail = emails.get(account.emailNormalized);
    if (sameEmail !== undefined) {
      refused.set(item.line, `${EMAIL_TAKEN} (line ${sameEmail})`);
      continue;
    }
    const sameUsername = account.usernameNormalized ? usernames.get(account.usernameNormalized) : undefined;
    if (sameUsername !== undefined && takenUsername === 'error') {
      refused.set(item.line, `${USERNAME_TAKEN} (line ${sameUsername})`);
      continue;
    }
    const kept = sameUsername === undefined ? account : withoutUsername(account, result);
    emails.set(kept.emailNormalized, item.line);
    if (kept.usernameNormalized) usernames.set(kept.usernameNormalized, item.line);
    pending.push({ line: item.line, account: kept });
  }

  let left = await insert(target, pending, refused, result);
  if (!left.length) return refused;
  // Not inserted: an address or username some account (or an earlier batch) already has.
  const taken = await target.taken(
    left.map((p) => p.account.emailNormalized),
    left.flatMap((p) => (p.account.usernameNormalized ? [p.account.usernameNormalized] : [])),
  );
  const retry: Pending[] = [];
  for (const p of left) {
    if (taken.emails.has(p.account.emailNormalized)) refused.set(p.line, EMAIL_TAKEN);
    else if (p.account.usernameNormalized && taken.usernames.has(p.account.usernameNormalized)) {
      if (takenUsername === 'drop') retry.push({ line: p.line, account: withoutUsername(p.account, result) });
      else refused.set(p.line, USERNAME_TAKEN);
    } else refused.set(p.line, 'not stored: it conflicted with an account being changed at the same time; run the import again');
  }
  left = await insert(target, retry, refused, result);
  for (const p of left) refused.set(p.line, EMAIL_TAKEN);
  return refused;
}

/** Inserts; returns what was not inserted. Row-level database errors are reported per line. */
async function insert(target: ImportTarget, pending: Pending[], refused: Map<number, string>, result: ImportResult): Promise<Pending[]> {
  if (!pending.length) return [];
  let stored: Set<string>;
  try {
    stored = await target.insert(pending.map((p) => p.account));
  } catch (err) {
    if (!isRowError(err) || pending.length === 1) {
      if (!isRowError(err)) throw err;
      refused.set(pending[0]!.line, `not stored: ${(err as Error).message.split('\n')[0]}`);
      return [];
    }
    // One bad row fails the whole INSERT: find it by storing the batch one row at a time.
    const left: Pending[] = [];
    for (const p of pending) left.push(...(await insert(target, [p], refused, result)));
    return left;
  }
  result.imported += stored.size;
  return pending.filter((p) => !stored.has(p.account.emailNormalized));
}

function withoutUsername(account: ImportAccount, result: ImportResult): ImportAccount {
  result.usernamesDropped++;
  return { ...account, username: null, usernameNormalized: null };
}
