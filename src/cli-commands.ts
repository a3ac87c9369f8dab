import { loadConfigOrExit, openRuntime, type Runtime } from './runtime.ts';
import { createServices } from './services.ts';
import { rotateSigningKeys } from './oidc/keys.ts';
import { migrate } from './db/database.ts';
import { createLog } from './email/log.ts';
import { outboxCommand, OutboxUsageError } from './email/outbox.cli.ts';
import { enqueueEmail } from './jobs/email.jobs.ts';
import { openJobQueue } from './jobs/queue.ts';
import { ADMIN_OUTBOX_RETRIED, createSecurityEvents } from './security/events.ts';
import { eventsCommand, EventsUsageError } from './security/events.cli.ts';
import { importCommand, ImportUsageError } from './accounts/import/import.cli.ts';
import { cliActor, recordAdminChange } from './admin/audit.ts';
import { CliUsageError, print } from './admin/cli-args.ts';
import { clientCommand, providerFor } from './admin/clients.cli.ts';
import { userCommand } from './admin/users.cli.ts';

/**
 * The CLI's commands (src/cli.ts is the entry, which loads this only when a command runs).
 * Each command opens the runtime (attached to a running server's embedded database when
 * there is one), does its work and closes it.
 */

/** The error types that are bad input (exit 64) rather than a failure. */
export const USAGE_ERRORS = [CliUsageError, OutboxUsageError, EventsUsageError, ImportUsageError];

/** One send job on the job store (`outbox retry`): a running worker sends it at once. */
async function enqueueEmailOnce(runtime: Runtime, messageId: string) {
  const queue = await openJobQueue({ config: runtime.config, database: runtime.database, log: createLog(runtime.config.logLevel, 'gatehouse-cli') });
  try {
    await enqueueEmail(queue, messageId);
  } finally {
    await queue.close();
  }
}

async function outbox(runtime: Runtime, args: string[]) {
  const events = createSecurityEvents({ knex: runtime.database.knex, log: createLog(runtime.config.logLevel, 'gatehouse-cli') });
  await outboxCommand(runtime, args, (id) => enqueueEmailOnce(runtime, id), (before, after) =>
    recordAdminChange(events, ADMIN_OUTBOX_RETRIED, cliActor(), { accountId: before.accountId, details: { outbox_id: before.id }, changes: { status: { before: before.status, after: after.status } } }),
  );
}

async function dispatch(runtime: Runtime, command: string, args: string[]) {
  switch (command) {
    case 'migrate':
      print({ applied: await migrate(runtime.database.knex) });
      return;
    case 'client':
      return clientCommand(runtime, args);
    case 'user':
      // --- issue 14: user import ---
      if (args[0] === 'import') return importCommand(runtime, args.slice(1));
      return userCommand(runtime, args[0], args.slice(1));
    // --- issue 3: case 'outbox' ---
    case 'outbox':
      return outbox(runtime, args);
    // --- issue 5: case 'events' ---
    case 'events':
      return eventsCommand(runtime, args);
    case 'keys': {
      if (args[0] !== 'rotate' || args.length > 1) throw new CliUsageError('keys takes one subcommand: rotate');
      const { knex, box } = createServices(runtime);
      const keys = await rotateSigningKeys(knex, box);
      print({ kid: keys[0]!.kid, keys });
      return;
    }
    case 'iat': {
      if (args[0] !== 'create' || args.length > 1) throw new CliUsageError('iat takes one subcommand: create');
      const services = createServices(runtime);
      const provider = await providerFor(runtime, services);
      const iat = new provider.InitialAccessToken({ expiresIn: 24 * 60 * 60 });
      print({ initial_access_token: await iat.save(), expires_in: 24 * 60 * 60 });
      return;
    }
    default:
      throw new CliUsageError(`unknown command ${command}`);
  }
}

/** Runs one command against the configured storage. */
export async function runCommand(command: string, args: string[]): Promise<void> {
  const config = loadConfigOrExit();
  const runtime = await openRuntime(config, { attach: 'allow', migrations: command !== 'migrate' });
  try {
    await dispatch(runtime, command, args);
  } finally {
    await runtime.close();
  }
}
