import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../config.ts';
import { createLog } from '../email/log.ts';
import { openEmbedded, type EmbeddedDatabase } from './embedded.ts';

// Postgres returns int8 (count(*), bigserial) as strings by default; ours fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface Database {
  knex: Knex;
  /** The postgres:// URL in use (the embedded server's when embedded). */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export function migrationConfig(): Knex.MigratorConfig {
  return { directory: MIGRATIONS_DIR, loadExtensions: ['.ts'], tableName: 'knex_migrations' };
}

/**
 * Connect to DATABASE_URL, or open the embedded database under DATA_DIR.
 * `attach: 'allow'` lets the CLI and the worker share the embedded database of a running server.
 */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedMaxConnections'> & Partial<Pick<Config, 'logLevel'>>,
  { attach = 'refuse', poolMax = 10 }: { attach?: 'allow' | 'refuse'; poolMax?: number } = {},
): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await openEmbedded(config.dataDir, { attach });
    url = embedded.url;
  }
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: 5000 },
    // Embedded: one backend serves every connection in turn, so more connections only queue.
    pool: { min: 0, max: embedded ? Math.min(poolMax, config.embeddedMaxConnections) : poolMax },
    acquireConnectionTimeout: 10_000,
    migrations: migrationConfig(),
    log: knexLog(config.logLevel ?? 'info'),
  });
  return {
    knex,
    url,
    embedded: Boolean(embedded),
    async close() {
      await knex.destroy();
      await embedded?.stop();
    },
  };
}

/**
 * Knex prints its warnings with console.log: plain text, on the stdout a CLI answers on, and
 * during a Postgres outage one "Acquire connection error" stack per failed query (issue 15,
 * finding 9). Here they are JSON lines on stderr, and the connection ones debug: each failed
 * request is already counted in the outage log (src/ops/outage-log.ts).
 */
function knexLog(level: string): Knex.Config['log'] {
  const log = createLog(level, 'gatehouse-database');
  const connectionTrouble = /^(Acquire connection error|Connection Error): /;
  const warn = (message: unknown) => {
    const text = String(message);
    if (connectionTrouble.test(text)) log.debug({ detail: text.split('\n')[0] }, 'database connection failed');
    else log.warn({ detail: text }, 'knex warning');
  };
  return {
    warn,
    error: (message: unknown) => log.error({ detail: String(message) }, 'knex error'),
    deprecate: (message: unknown) => log.warn({ detail: String(message) }, 'knex deprecation'),
    debug: (message: unknown) => log.debug({ detail: message }, 'knex'),
  };
}

// Any fixed 64-bit number of our own: the key of the advisory lock migrations run under.
const MIGRATION_LOCK_KEY = 7_242_011_934;

/**
 * Apply pending migrations; returns the names applied. Safe when several instances start at
 * once (`docker compose up --scale app=3`, a rolling upgrade): knex's own lock makes all but one
 * fail with "Migration table is already locked", so each first waits for a Postgres advisory
 * lock, held on a connection of its own, and the later ones then find nothing to do.
 */
export async function migrate(knex: Knex): Promise<string[]> {
  const connection = await knex.client.acquireConnection();
  try {
    await connection.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const [, applied] = (await knex.migrate.latest(migrationConfig())) as [number, string[]];
    return applied;
  } finally {
    await connection.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await knex.client.releaseConnection(connection);
  }
}
