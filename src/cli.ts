import { parseArgs } from 'node:util';
import { loadConfigOrExit, openRuntime, type Runtime } from './runtime.ts';
import { createServices } from './services.ts';
import { ensureSigningKeys, loadSigningJwks, rotateSigningKeys } from './oidc/keys.ts';
import { createProvider } from './oidc/provider.ts';
import { registerClient } from './oidc/clients.service.ts';
import { migrate } from './db/database.ts';
import { AppError } from './errors.ts';
import { normalizeEmail } from './identifiers.ts';
import { createRevocationRepo } from './accounts/revocation/revocation.repo.ts';
import { ACCOUNT_DISABLED, createSecurityEvents } from './security/events.ts';
import { createLog } from './email/log.ts';
import { outboxCommand, OutboxUsageError } from './email/outbox.cli.ts';
import { enqueueEmail } from './jobs/email.jobs.ts';
import { openJobQueue } from './jobs/queue.ts';
import { eventsCommand, EventsUsageError } from './security/events.cli.ts';
import { IMPORT_USAGE, importCommand, ImportUsageError } from './accounts/import/import.cli.ts';

/**
 * `npx gatehouse <command>`: the admin CLI of CONTRACT.md. A command that creates something
 * prints one JSON object on stdout and nothing else there; errors are one line on stderr
 * and a non-zero exit.
 */

class UsageError extends Error {}

const USAGE = `usage: gatehouse <command>
  migrate
  client create --name N --redirect-uri U [--redirect-uri U2 ...] [--post-logout-redirect-uri U]
                [--public] [--first-party] [--grant-types a,b] [--scope "openid profile email"]
                [--backchannel-logout-uri U]
  client list | client show ID | client delete ID
  user create --email E --password P [--name N] [--username U] [--admin] [--verified]
  user disable ID|EMAIL | user enable ID|EMAIL
  ${IMPORT_USAGE}
  keys rotate
  iat create
  events [--user ID] [--type T] [--since ISO-8601]`;

function out(value: unknown) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function parse(args: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function providerFor(runtime: Runtime, services: ReturnType<typeof createServices>) {
  await ensureSigningKeys(services.knex, services.box);
  const { keys } = await loadSigningJwks(services.knex, services.box, runtime.config.retiredKeyGraceSeconds);
  return createProvider({ ...services, config: runtime.config, jwks: keys, render: async () => '' });
}

async function clientCommand(runtime: Runtime, args: string[]) {
  const services = createServices(runtime);
  const [sub, ...rest] = args;
  if (sub === 'list') {
    // Secrets only through `client show ID`, one client at a time.
    out((await services.clients.list()).map(({ client_secret: _secret, ...rest }) => rest));
    return;
  }
  if (sub === 'show' || sub === 'delete') {
    const id = rest[0];
    if (!id) throw new UsageError(`client ${sub} needs a client id`);
    if (sub === 'show') {
      const client = await services.clients.find(id);
      if (!client) throw new AppError('NOT_FOUND', 404, `no client with id ${id}`);
      out(client);
    } else {
      if (!(await services.clients.delete(id))) throw new AppError('NOT_FOUND', 404, `no client with id ${id}`);
      out({ client_id: id, deleted: true });
    }
    return;
  }
  if (sub !== 'create') throw new UsageError(`unknown client command ${sub ?? '(none)'}`);

  const { values } = parse(rest, {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'backchannel-logout-uri': { type: 'string' },
    public: { type: 'boolean' },
    'first-party': { type: 'boolean' },
    'grant-types': { type: 'string' },
    scope: { type: 'string' },
  });
  const provider = await providerFor(runtime, services);
  out(
    await registerClient(
      { clients: services.clients, provider },
      {
        name: String(values.name ?? ''),
        redirectUris: values['redirect-uri'] as string[] | undefined,
        postLogoutRedirectUris: values['post-logout-redirect-uri'] as string[] | undefined,
        public: Boolean(values.public),
        firstParty: Boolean(values['first-party']),
        grantTypes: values['grant-types'] ? String(values['grant-types']).split(',').map((g) => g.trim()).filter(Boolean) : undefined,
        scope: values.scope as string | undefined,
        backchannelLogoutUri: values['backchannel-logout-uri'] as string | undefined,
      },
    ),
  );
}

async function userCommand(runtime: Runtime, args: string[]) {
  const [sub, ...rest] = args;
  // --- issue 14: user import ---
  if (sub === 'import') {
    return importCommand(runtime, rest).catch((err: Error) => {
      throw err instanceof ImportUsageError ? new UsageError(err.message) : err;
    });
  }
  if (sub === 'disable' || sub === 'enable') {
    const who = rest[0];
    if (!who) throw new UsageError(`user ${sub} needs an account id or e-mail address`);
    const { accounts, knex } = createServices(runtime);
    const account = (await accounts.findById(who)) ?? (await accounts.repo.findByLogin(normalizeEmail(who)));
    if (!account) throw new AppError('NOT_FOUND', 404, `no account ${who}`);
    await knex.transaction(async (trx) => {
      await accounts.repo.update(account.id, { disabled: sub === 'disable' }, trx);
      // ASVS V7.4.2: disabling ends every session, grant and refresh token of the account.
      if (sub === 'disable') await createRevocationRepo(knex).revokeSessions(account.id, trx);
    });
    if (sub === 'disable') {
      await createSecurityEvents({ knex, log: createLog(runtime.config.logLevel, 'gatehouse-cli') }).record(ACCOUNT_DISABLED, { accountId: account.id, details: { by: 'cli' } });
    }
    out({ id: account.id, email: account.email, disabled: sub === 'disable' });
    return;
  }
  if (sub !== 'create') throw new UsageError(`unknown user command ${sub ?? '(none)'}`);
  const { values } = parse(rest, {
    email: { type: 'string' },
    password: { type: 'string' },
    name: { type: 'string' },
    username: { type: 'string' },
    admin: { type: 'boolean' },
    verified: { type: 'boolean' },
  });
  if (!values.email || !values.password) throw new UsageError('user create needs --email and --password');
  const { accounts } = createServices(runtime);
  const account = await accounts.create({
    email: String(values.email),
    password: String(values.password),
    name: values.name as string | undefined,
    username: values.username as string | undefined,
    roles: values.admin ? ['admin'] : [],
    verified: Boolean(values.verified),
  });
  out({ id: account.id, email: account.email, username: account.username, roles: account.roles, email_verified: account.emailVerifiedAt !== null });
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

async function run(argv: string[]) {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const commands = ['migrate', 'client', 'user', 'keys', 'iat', 'outbox', 'events'];
  if (!commands.includes(command)) throw new UsageError(`unknown command ${command}`);
  const config = loadConfigOrExit();
  const runtime = await openRuntime(config, { attach: 'allow', migrations: command !== 'migrate' });
  try {
    switch (command) {
      case 'migrate':
        out({ applied: await migrate(runtime.database.knex) });
        break;
      case 'client':
        await clientCommand(runtime, args);
        break;
      case 'user':
        await userCommand(runtime, args);
        break;
      // --- issue 3: case 'outbox' ---
      case 'outbox':
        await outboxCommand(runtime, args, (id) => enqueueEmailOnce(runtime, id)).catch((err: Error) => {
          throw err instanceof OutboxUsageError ? new UsageError(err.message) : err;
        });
        break;
      // --- issue 5: case 'events' ---
      case 'events':
        await eventsCommand(runtime, args).catch((err: Error) => {
          throw err instanceof EventsUsageError ? new UsageError(err.message) : err;
        });
        break;
      case 'keys': {
        if (args[0] !== 'rotate') throw new UsageError('usage: gatehouse keys rotate');
        const { knex, box } = createServices(runtime);
        const keys = await rotateSigningKeys(knex, box);
        out({ kid: keys[0]!.kid, keys });
        break;
      }
      case 'iat': {
        if (args[0] !== 'create') throw new UsageError('usage: gatehouse iat create');
        const services = createServices(runtime);
        const provider = await providerFor(runtime, services);
        const iat = new provider.InitialAccessToken({ expiresIn: 24 * 60 * 60 });
        const token = await iat.save();
        out({ initial_access_token: token, expires_in: 24 * 60 * 60 });
        break;
      }
    }
  } finally {
    await runtime.close();
  }
}

run(process.argv.slice(2)).catch((err: Error) => {
  const prefix = err instanceof UsageError ? 'usage error' : 'error';
  const hint = err instanceof UsageError ? ' (gatehouse help lists the commands)' : '';
  process.stderr.write(`gatehouse: ${prefix}: ${err.message.split('\n')[0]}${hint}\n`);
  process.exit(err instanceof UsageError ? 64 : 1);
});
