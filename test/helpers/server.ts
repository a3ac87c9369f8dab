import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before } from 'node:test';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import knexFactory from 'knex';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config, type Env } from '../../src/config.ts';
import { openRuntime, type Runtime } from '../../src/runtime.ts';

/**
 * Test storage follows `npm test`'s contract: real Postgres/Redis when DATABASE_URL/REDIS_URL
 * are set, the embedded database otherwise. Each server gets storage of its own (a fresh
 * database or data folder, a fresh Redis key prefix), so test files run in parallel.
 */
export const TEST_DATABASE_URL = process.env.DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.REDIS_URL || undefined;
export const STORAGE = `${TEST_DATABASE_URL ? 'postgres' : 'embedded'}${TEST_REDIS_URL ? '+redis' : ''}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** A storage place of its own: a new database on the test server, or a new data folder. */
export interface TestStorage {
  env: Env;
  drop(): Promise<void>;
}

export async function createStorage({ redis = Boolean(TEST_REDIS_URL), embedded = !TEST_DATABASE_URL } = {}): Promise<TestStorage> {
  const env: Env = { REDIS_PREFIX_FOR_TESTS: `gatehouse:test:${randomBytes(6).toString('hex')}:` };
  const cleanups: (() => Promise<void>)[] = [];
  if (redis) {
    if (!TEST_REDIS_URL) throw new Error('REDIS_URL is not set');
    env.REDIS_URL = TEST_REDIS_URL;
  }
  if (embedded) {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
    env.DATA_DIR = dir;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  } else {
    if (!TEST_DATABASE_URL) throw new Error('DATABASE_URL is not set');
    const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    await admin.destroy();
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    cleanups.push(async () => {
      const a = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 1 } });
      await a.raw(`drop database if exists ${name} with (force)`);
      await a.destroy();
    });
  }
  return {
    env,
    async drop() {
      for (const c of cleanups) await c();
    },
  };
}

export interface TestServer {
  url: string;
  port: number;
  config: Config;
  app: FastifyInstance;
  runtime: Runtime;
  stop(): Promise<void>;
}

/** Starts Gatehouse on a real port over the given storage (migrated, keys ensured). */
export async function startServer(storage: TestStorage, env: Env = {}, overrides: Partial<Config> = {}): Promise<TestServer> {
  const port = Number(env.PORT ?? (await freePort()));
  const merged: Env = { LOG_LEVEL: 'warn', ...storage.env, ...env, PORT: String(port), HOST: '127.0.0.1' };
  merged.ISSUER ??= `http://127.0.0.1:${port}`;
  const config = loadConfig(merged, { redisPrefix: storage.env.REDIS_PREFIX_FOR_TESTS!, ...overrides });
  const runtime = await openRuntime(config, { attach: 'refuse' });
  const app = await buildApp(runtime);
  await app.listen({ port, host: '127.0.0.1' });
  let stopped = false;
  return {
    url: config.issuer,
    port,
    config,
    app,
    runtime,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      await runtime.close();
    },
  };
}

/**
 * A server on storage of its own for the enclosing `describe`: started before its tests,
 * stopped and its storage dropped after them. Read `server` and `storage` inside tests and hooks.
 */
export function useServer({ storage: storageOptions, env, overrides }: { storage?: Parameters<typeof createStorage>[0]; env?: Env; overrides?: Partial<Config> } = {}) {
  let storage: TestStorage | undefined;
  let server: TestServer | undefined;
  before(async () => {
    storage = await createStorage(storageOptions);
    server = await startServer(storage, env, overrides);
  });
  after(async () => {
    await server?.stop();
    await storage?.drop();
  });
  return {
    get server(): TestServer {
      if (!server) throw new Error('useServer: the server starts in before(); read it inside tests and hooks');
      return server;
    },
    get storage(): TestStorage {
      if (!storage) throw new Error('useServer: the storage is made in before(); read it inside tests and hooks');
      return storage;
    },
  };
}
