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
import { IMPORT_USAGE, importCommand, ImportUsageError } from './accounts/import/import.cli.ts';
import { cliActor, recordAdminChange } from './admin/audit.ts';
import { CliUsageError, print } from './admin/cli-args.ts';
import { CLIENT_USAGE, clientCommand, providerFor } from './admin/clients.cli.ts';
import { USER_USAGE, userCommand } from './admin/users.cli.ts';

/**
 * `npx gatehouse <command>`: the admin CLI of CONTRACT.md. A command that creates something
 * prints one JSON object on stdout and nothing else there; errors are one line on stderr
 * and a non-zero exit. `gatehouse <command> [<subcommand>] --help` shows its usage.
 */

/** Each command's usage, by command and subcommand. */
const USAGES: Record<string, string | Record<string, string>> = {
  migrate: 'migrate',
  client: CLIENT_USAGE,
  user: { ...USER_USAGE, import: IMPORT_USAGE },
  keys: 'keys rotate',
  iat: 'iat create                      (an initial access token for dynamic client registration)',
  outbox: 'outbox [--status queued|sending|sent|failed|dead] | outbox retry ID',
  events: 'events [--user ID] [--type T] [--since ISO-8601]',
};

function usageOf(command?: string, sub?: string): string {
  const entry = command ? USAGES[command] : undefined;
  if (!entry) return `usage: gatehouse <command>   (gatehouse <command> --help for one)\n${Object.keys(USAGES).map((c) => usageOf(c).replace(/^usage: gatehouse /gm, '  ')).join('\n')}`;
  const lines = typeof entry === 'string' ? [entry] : sub && entry[sub] ? [entry[sub]] : Object.values(entry);
  return lines.map((line) => `usage: gatehouse ${line}`).join('\n');
}

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
  }
}

async function run(argv: string[]) {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usageOf(command === 'help' ? args[0] : undefined, args[1])}\n`);
    return;
  }
  if (!(command in USAGES)) throw new CliUsageError(`unknown command ${command}`);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usageOf(command, args[0])}\n`);
    return;
  }
  const config = loadConfigOrExit();
  const runtime = await openRuntime(config, { attach: 'allow', migrations: command !== 'migrate' });
  try {
    await dispatch(runtime, command, args);
  } finally {
    await runtime.close();
  }
}

const USAGE_ERRORS = [CliUsageError, OutboxUsageError, EventsUsageError, ImportUsageError];

run(process.argv.slice(2)).catch((err: Error) => {
  const usage = USAGE_ERRORS.some((type) => err instanceof type);
  const hint = usage ? ` (gatehouse ${process.argv[2] && process.argv[2] in USAGES ? `${process.argv[2]} ` : ''}--help shows the usage)` : '';
  process.stderr.write(`gatehouse: ${usage ? 'usage error' : 'error'}: ${err.message.split('\n')[0]}${hint}\n`);
  process.exit(usage ? 64 : 1);
});
