import { access, constants } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Runtime } from '../../runtime.ts';
import { createLog } from '../../email/log.ts';
import { createSecurityEvents, USERS_IMPORTED } from '../../security/events.ts';
import { djangoItems, type DjangoStats } from './django-source.ts';
import { readDjangoUsers } from './django-users.repo.ts';
import { readImportFile } from './import-file.ts';
import { importAccounts, type ImportProgress } from './import.service.ts';

export class ImportUsageError extends Error {}

/**
 * `gatehouse user import` (CONTRACT.md, "Importing users"): accounts from a JSON-lines file or
 * from a Django database, with their password hashes as they are. The summary
 * `{"imported": n, "skipped": n, "errors": [{"line": n, "error": "..."}]}` goes to stdout; a
 * progress line every 10,000 lines and notes go to stderr.
 */
export async function importCommand(runtime: Runtime, args: string[], { stdout = process.stdout, stderr = process.stderr } = {}) {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        file: { type: 'string' },
        'from-django': { type: 'string' },
        'dry-run': { type: 'boolean' },
        'map-staff-to-admin': { type: 'boolean' },
        verified: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new ImportUsageError((err as Error).message);
  }
  const file = values.file as string | undefined;
  const django = values['from-django'] as string | undefined;
  if (Boolean(file) === Boolean(django)) throw new ImportUsageError(`user import needs one of --file F or --from-django URL (gatehouse help shows both forms)`);
  if (file && (values['map-staff-to-admin'] || values.verified)) throw new ImportUsageError('--map-staff-to-admin and --verified go with --from-django');
  if (django && !/^postgres(ql)?:\/\//.test(django)) throw new ImportUsageError('--from-django takes a postgres:// URL of the Django database');
  if (file) await access(file, constants.R_OK).catch(() => Promise.reject(new Error(`cannot read ${file}`)));

  const dryRun = Boolean(values['dry-run']);
  const stats: DjangoStats = { usernamesLeftOut: 0 };
  const items = file
    ? readImportFile(file)
    : djangoItems(readDjangoUsers(django!), { mapStaffToAdmin: Boolean(values['map-staff-to-admin']), verified: Boolean(values.verified) }, stats);
  const progress = ({ read, imported, skipped }: ImportProgress) =>
    stderr.write(`gatehouse: user import: ${read} ${file ? 'lines' : 'users'} read, ${imported} ${dryRun ? 'to import' : 'imported'}, ${skipped} skipped${dryRun ? ' (dry run)' : ''}\n`);

  const result = await importAccounts(runtime.database.knex, items, { dryRun, takenUsername: file ? 'error' : 'drop', onProgress: progress });
  try {
    const usernames = stats.usernamesLeftOut + result.usernamesDropped;
    if (usernames) stderr.write(`gatehouse: user import: ${usernames} Django usernames were left out (taken, or not 3 to 32 letters, digits, dots, dashes or underscores); those users sign in with their e-mail address\n`);
    if (!dryRun) {
      const log = createLog(runtime.config.logLevel, 'gatehouse-cli');
      await createSecurityEvents({ knex: runtime.database.knex, log }).record(USERS_IMPORTED, {
        details: { source: file ? 'file' : 'django', imported: result.imported, skipped: result.skipped, usernamesLeftOut: usernames },
      });
    }
    await result.errors.writeSummary(stdout, { imported: result.imported, skipped: result.skipped });
  } finally {
    result.errors.close();
  }
}
