import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIRECT_URI, type BenchClient } from './setup.ts';
import { benchRedisUrl, clearRedis, createDatabase, gatehouseCli, startServer, type Server } from './servers.ts';
import { freePort } from './util.ts';
import { loadConfig } from '../src/config.ts';
import { openRuntime } from '../src/runtime.ts';
import { createServices } from '../src/services.ts';

/**
 * Starts the two servers under test on the same Postgres and Redis:
 * - Gatehouse as production runs it (`node src/main.ts`, NODE_ENV=production, rate limits,
 *   security headers, metrics, info logs to a file, the e-mail worker inline) behind a
 *   TLS-terminating proxy: an https ISSUER, TRUST_PROXY, and X-Forwarded-* on every request;
 * - the bare oidc-provider (bench/bare/server.ts) behind the same kind of proxy.
 * Gatehouse's user and clients are made with its CLI; the bare provider gets the same ones.
 */
export const BARE_PREFIX = 'bench:bare:';
const GATEHOUSE_PREFIX = 'gatehouse:';
const FIRST_PARTY_REDIRECT = 'https://app.gatehouse.bench.test/cb';

const PASSWORD = `Load test ${randomBytes(12).toString('base64url')}`;
/**
 * The bench's accounts. Logins that run at once use different accounts: the login throttle
 * counts an attempt from the moment it is admitted, so parallel logins to one account are
 * slowed and locked, as they should be (src/security/login-throttle.ts).
 */
export const USERS = Array.from({ length: 65 }, (_, i) => ({ email: `bench-${i}@example.com`, password: PASSWORD, name: `Bench User ${i}` }));
export const USER = USERS[0]!;
/**
 * The bench's confidential clients, used in turn by the token scenarios. Gatehouse limits what
 * one authenticated client may ask of /token per minute (config rateLimits.token.clientMax, as
 * production runs it); a few thousand tokens a second are many backends' worth, so the load
 * comes from many clients, as it would in production. The bare provider gets the same ones.
 */
export const CLIENT_COUNT = 32;

export interface Targets {
  gatehouse: Server;
  bare: Server;
  clients: { gatehouse: BenchClient[]; bare: BenchClient[] };
  /** A first-party client: /session/* and the hosted-login scenario (no consent page). */
  firstParty: BenchClient;
  database: Awaited<ReturnType<typeof createDatabase>>;
  redisUrl: string;
  redisVersion: string;
  logDir: string;
  close(options?: { keepLogs?: boolean }): Promise<void>;
}

export async function startTargets({ databaseUrl, redisUrl: baseRedisUrl, cpuProfileDir }: { databaseUrl: string; redisUrl: string; cpuProfileDir?: string }): Promise<Targets> {
  const redisUrl = benchRedisUrl(baseRedisUrl);
  const { deleted, version: redisVersion } = await clearRedis(redisUrl, [GATEHOUSE_PREFIX, BARE_PREFIX]);
  if (deleted) console.error(`bench: removed ${deleted} keys a previous run left in ${redisUrl}`);
  const database = await createDatabase(databaseUrl);
  const logDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const started: Server[] = [];
  /** Stops both servers and removes their database and keys; their logs too unless `keepLogs`. */
  const close = async ({ keepLogs = false } = {}) => {
    for (const s of started) await s.stop();
    await database.drop();
    await clearRedis(redisUrl, [GATEHOUSE_PREFIX, BARE_PREFIX]);
    if (!keepLogs) rmSync(logDir, { recursive: true, force: true });
  };
  try {
    const [gPort, bPort] = [await freePort(), await freePort()];
    const gIssuer = 'https://gatehouse.bench.test';
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(gPort),
      HOST: '127.0.0.1',
      ISSUER: gIssuer,
      TRUST_PROXY: 'true',
      SECRETS: randomBytes(32).toString('base64url'),
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
    };
    const cli = (args: string[]) => gatehouseCli({ ...env, LOG_LEVEL: 'warn' }, args);
    await cli(['migrate']);
    const created = await cli(['client', 'create', '--name', 'Bench app', '--redirect-uri', REDIRECT_URI, '--grant-types', 'authorization_code,refresh_token,client_credentials']);
    const copies = await seed(env, created, CLIENT_COUNT - 1);
    const firstParty = await cli(['client', 'create', '--name', 'Bench front end', '--redirect-uri', FIRST_PARTY_REDIRECT, '--first-party']);
    const gClients: BenchClient[] = [created, ...copies].map((c) => ({ client_id: String(c.client_id), client_secret: String(c.client_secret), redirect_uri: REDIRECT_URI }));

    const profile = cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [];
    started.push(await startServer('gatehouse', [...profile, ...startFlags(), 'src/main.ts'], env, gIssuer, gPort, logDir, '/.well-known/openid-configuration'));

    const bIssuer = 'https://bare.bench.test';
    const bClients: BenchClient[] = gClients.map((_, i) => ({ client_id: `bench-app-${i}`, client_secret: randomBytes(32).toString('base64url'), redirect_uri: REDIRECT_URI }));
    const { client_secret: _s, client_id: _i, first_party: _f, ...metadata } = created;
    const bareEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      PORT: String(bPort),
      ISSUER: bIssuer,
      REDIS_URL: redisUrl,
      BARE_PREFIX,
      BARE_COOKIE_SECRET: randomBytes(32).toString('base64url'),
      BARE_CLIENTS: JSON.stringify(bClients.map((c) => ({ ...metadata, client_id: c.client_id, client_secret: c.client_secret }))),
      BARE_ACCOUNT: JSON.stringify({ sub: randomBytes(8).toString('hex'), email: USER.email, name: USER.name }),
    };
    started.push(await startServer('bare', ['bench/bare/server.ts'], bareEnv, bIssuer, bPort, logDir, '/.well-known/openid-configuration'));

    return {
      gatehouse: started[0]!,
      bare: started[1]!,
      clients: { gatehouse: gClients, bare: bClients },
      firstParty: { client_id: String(firstParty.client_id), client_secret: String(firstParty.client_secret), redirect_uri: FIRST_PARTY_REDIRECT },
      database,
      redisUrl,
      redisVersion,
      logDir,
      close,
    };
  } catch (err) {
    await close({ keepLogs: true });
    throw new Error(`${(err as Error).message} (server logs in ${logDir})`, { cause: err });
  }
}

/**
 * The accounts, made through Gatehouse's own account service, and `copies` more clients with the
 * metadata the CLI checked for the first (65 accounts and 31 clients at once are slow through
 * the CLI). Returns the copies with their ids and secrets.
 */
async function seed(env: NodeJS.ProcessEnv, client: Record<string, unknown>, copies: number) {
  const runtime = await openRuntime(loadConfig({ ...env, LOG_LEVEL: 'warn' }), { attach: 'allow', migrations: false });
  try {
    const { accounts, clients } = createServices(runtime);
    for (const user of USERS) await accounts.create({ ...user, verified: true });
    const { first_party: _f, ...metadata } = client;
    const made = Array.from({ length: copies }, (_, i) => ({
      ...metadata,
      client_name: `Bench app ${i + 2}`,
      client_id: randomBytes(12).toString('base64url'),
      client_secret: randomBytes(32).toString('base64url'),
    }));
    for (const c of made) await clients.upsert(c as never, false);
    return made;
  } finally {
    await runtime.close();
  }
}

/** Node's flags of `npm start` (package.json), so the bench runs Gatehouse exactly as production does. */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((arg) => arg.startsWith('--'));
}
