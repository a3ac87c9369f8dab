import { ConfigError, loadConfig, type Config, type Env } from './config.ts';
import { migrate, openDatabase, type Database } from './db/database.ts';
import { openRedis, redisTarget, type RedisClient } from './redis.ts';

/** Reads the configuration or exits: one line per problem on stderr, exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.problems) process.stderr.write(`gatehouse: configuration: ${line}\n`);
      process.exit(78);
    }
    throw err;
  }
}

export interface Runtime {
  config: Config;
  database: Database;
  redis?: RedisClient;
  close(): Promise<void>;
}

/**
 * Opens what every entry point needs: the database (migrated) and Redis when configured.
 * A dependency that does not answer is an error naming it, never a hang.
 */
export async function openRuntime(
  config: Config,
  { attach, migrations = true }: { attach: 'allow' | 'refuse'; migrations?: boolean },
): Promise<Runtime> {
  let database: Database;
  try {
    database = await openDatabase(config, { attach });
    if (migrations) await migrate(database.knex);
  } catch (err) {
    throw new Error(`database: ${(err as Error).message}`, { cause: err });
  }
  let redis: RedisClient | undefined;
  const target = redisTarget(config);
  if (target) {
    try {
      redis = await openRedis(target);
    } catch (err) {
      await database.close();
      const what = 'url' in target ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES';
      throw new Error(`redis: cannot connect to ${what} (${(err as Error).message})`, { cause: err });
    }
  }
  return {
    config,
    database,
    redis,
    async close() {
      redis?.disconnect();
      await database.close();
    },
  };
}
