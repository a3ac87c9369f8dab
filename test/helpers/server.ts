import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { after, before } from 'node:test';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import knexFactory from 'knex';
import { buildApp, type AppEmail, type AppServices } from '../../src/app.ts';
import { loadConfig, type Config, type Env } from '../../src/config.ts';
import { migrate, openDatabase } from '../../src/db/database.ts';
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

/**
 * A migrated embedded data folder to copy for each test server. PGlite creates a new folder by
 * running initdb in WebAssembly (about 6-9 s on this machine, most of an embedded server's
 * start); copying a ready one takes a fraction of a second. One template per set of
 * migrations, shared by the suite's processes: made under a temporary name and renamed into
 * place, so processes that race each make one and the first rename wins.
 */
let embeddedTemplate: Promise<string> | undefined;
async function templateDataDir(): Promise<string> {
  const migrationsDir = new URL('../../migrations/', import.meta.url);
  const hash = createHash('sha256');
  for (const name of (await readdir(migrationsDir)).sort()) hash.update(name).update(await readFile(new URL(name, migrationsDir)));
  const pglite = JSON.parse(await readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string };
  const dir = join(tmpdir(), `gatehouse-test-template-${pglite.version}-${hash.digest('hex').slice(0, 16)}`);
  // It exists only complete: it is renamed into place once built.
  if (await stat(dir).then(() => true, () => false)) return dir;
  const building = await mkdtemp(join(tmpdir(), 'gatehouse-test-template-building-'));
  const database = await openDatabase({ databaseUrl: undefined, dataDir: building, embeddedMaxConnections: 4 });
  await migrate(database.knex);
  await database.close();
  await rm(join(building, 'embedded.json'), { force: true });
  await rename(building, dir).catch(async () => {
    // Another process got there first: use its template.
    await rm(building, { recursive: true, force: true });
  });
  return dir;
}

/** A storage place of its own: a new database on the test server, or a new data folder. */
export interface TestStorage {
  env: Env;
  drop(): Promise<void>;
}

export async function createStorage({ redis = Boolean(TEST_REDIS_URL), embedded = !TEST_DATABASE_URL } = {}): Promise<TestStorage> {
  const env: Env = { REDIS_PREFIX: `gatehouse:test:${randomBytes(6).toString('hex')}:` };
  const cleanups: (() => Promise<void>)[] = [];
  if (redis) {
    if (!TEST_REDIS_URL) throw new Error('REDIS_URL is not set');
    env.REDIS_URL = TEST_REDIS_URL;
  }
  if (embedded) {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
    await cp(await (embeddedTemplate ??= templateDataDir()), dir, { recursive: true });
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
  /** What the app was built with (accounts, clients, knex, the OIDC host, first-party keys...). */
  services: AppServices;
  /** Its outbox and job queue. */
  email: AppEmail;
  runtime: Runtime;
  stop(): Promise<void>;
}

/** Starts Gatehouse on a real port over the given storage (migrated, keys ensured). */
export async function startServer(storage: TestStorage, env: Env = {}, overrides: Partial<Config> = {}): Promise<TestServer> {
  const port = Number(env.PORT ?? (await freePort()));
  const merged: Env = { LOG_LEVEL: 'warn', ...storage.env, ...env, PORT: String(port), HOST: '127.0.0.1' };
  merged.ISSUER ??= `http://127.0.0.1:${port}`;
  const config = loadConfig(merged, overrides);
  const runtime = await openRuntime(config, { attach: 'refuse' });
  const { app, services, email } = await buildApp(runtime);
  await app.listen({ port, host: '127.0.0.1' });
  let stopped = false;
  return {
    url: config.issuer,
    port,
    config,
    app,
    services,
    email,
    runtime,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close();
      await runtime.close();
    },
  };
}

/** What a server of `useServer` is started with. */
export interface UseServerOptions {
  /** Which storage (default: what `npm test` was given). */
  storage?: Parameters<typeof createStorage>[0];
  /**
   * Environment variables. A function is called when the server starts (in `before`, after the
   * hooks registered before `useServer`), with the port the server will listen on and its
   * storage: for values known only then (an SMTP server's URL, an issuer naming the port).
   */
  env?: Env | ((at: { port: number; storage: TestStorage }) => Env);
  overrides?: Partial<Config>;
}

/** A stand-in that forwards to whatever `current()` returns when it is used. */
function liveView<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get: (_target, prop) => Reflect.get(current(), prop),
    has: (_target, prop) => Reflect.has(current(), prop),
  });
}

/**
 * The one way a test file starts Gatehouse: a server on storage of its own for the enclosing
 * `describe`, started before its tests, stopped and its storage dropped after them.
 * `server` and `storage` may be kept in variables at once; they refer to the running server
 * (the new one after `restart()`) and are read inside tests and hooks.
 */
export function useServer({ storage: storageOptions, env = {}, overrides }: UseServerOptions = {}) {
  let storage: TestStorage | undefined;
  let server: TestServer | undefined;
  const others: TestServer[] = [];
  const envFor = async (at: TestStorage, port?: number) => {
    port ??= await freePort();
    return { ...(typeof env === 'function' ? env({ port, storage: at }) : env), PORT: String(port) };
  };
  before(async () => {
    storage = await createStorage(storageOptions);
    server = await startServer(storage, await envFor(storage), overrides);
  });
  after(async () => {
    for (const other of others) await other.stop();
    await server?.stop();
    await storage?.drop();
  });
  const running = () => {
    if (!server) throw new Error('useServer: the server starts in before(); use it inside tests and hooks');
    return server;
  };
  const made = () => {
    if (!storage) throw new Error('useServer: the storage is made in before(); use it inside tests and hooks');
    return storage;
  };
  return {
    server: liveView(running),
    storage: liveView(made),
    /** Stops the server and starts it again on the same storage and port, as an operator's restart does. */
    async restart(): Promise<TestServer> {
      const { port } = running();
      await running().stop();
      server = await startServer(made(), await envFor(made(), port), overrides);
      return server;
    },
    /** One more server on the same storage (a test may stop it itself; otherwise it stops after the tests). */
    async another(more: { env?: Env; overrides?: Partial<Config> } = {}): Promise<TestServer> {
      const other = await startServer(made(), { ...(await envFor(made())), ...more.env }, { ...overrides, ...more.overrides });
      others.push(other);
      return other;
    },
  };
}
