import type { RedisClient } from './redis.ts';
import { createAccounts } from './accounts/accounts.service.ts';
import { createPasswordHasher } from './accounts/passwords/hasher.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { postgresAdapterFactory } from './oidc/adapters/postgres.adapter.ts';
import { redisAdapterFactory } from './oidc/adapters/redis.adapter.ts';
import { withHashedIds, withUnavailableStorage } from './oidc/adapters/types.ts';
import { postgresInvalidation, redisInvalidation } from './oidc/client-cache.ts';
import { createClientsRepo } from './oidc/clients.repo.ts';
import { createSecretBox } from './crypto/secret-box.ts';
import { createSecurityEvents, type SecurityLog } from './security/events.ts';

/** The services every entry point (server, worker, CLI) builds the same way. */
export function createServices({ config, database, redis, log }: { config: Config; database: Database; redis?: RedisClient; log?: SecurityLog }) {
  const { knex } = database;
  const box = createSecretBox(config.secrets);
  const hasher = createPasswordHasher(config.argon2);
  // With a log (the server's), accounts record their hash upgrades as security events.
  const events = log ? createSecurityEvents({ knex, log }) : undefined;
  return {
    knex,
    box,
    hasher,
    accounts: createAccounts({ knex, hasher, passwordPolicy: config.passwordPolicy, events }),
    clients: createClientsRepo(knex, box, {
      invalidation: redis ? redisInvalidation(redis, config.redisPrefix) : database.embedded ? undefined : postgresInvalidation(knex, database.url),
    }),
    adapter: withUnavailableStorage(withHashedIds(redis ? redisAdapterFactory(redis, config.redisPrefix) : postgresAdapterFactory(knex))),
  };
}

export type Services = ReturnType<typeof createServices>;
