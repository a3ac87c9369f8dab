import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { send, type Target } from './http.ts';

/**
 * The processes under test and what the bench reads of them: CPU time and peak RSS from
 * /proc (Linux), and the CPU of the Postgres backends serving Gatehouse's database (Postgres
 * on this machine), since a request's database work happens there.
 */
const NODE = process.execPath;
const ROOT = new URL('..', import.meta.url).pathname;
const CLK_TCK = 100; // getconf CLK_TCK on Linux

/** CPU seconds (user + system) the process has used so far; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Peak and current resident set size in MiB (VmHWM, VmRSS). */
export function memory(pid: number): { peakMiB: number; rssMiB: number } {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // The process is gone: nothing to read.
  }
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'))?.[1] ?? 0);
  return { peakMiB: Math.round(kib('VmHWM') / 1024), rssMiB: Math.round(kib('VmRSS') / 1024) };
}

/** A database of the bench's own on the Postgres of DATABASE_URL, dropped at the end. */
export async function createDatabase(adminUrl: string) {
  const name = `gatehouse_bench_${randomBytes(5).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  /** CPU seconds of every backend connected to the database now (pid → seconds). */
  const backends = async () => {
    const rows = (await admin.raw('select pid from pg_stat_activity where datname = ?', [name])).rows as { pid: number }[];
    return new Map(rows.map((r) => [r.pid, cpuSeconds(r.pid)]));
  };
  return {
    name,
    url: url.toString(),
    backends,
    version: async () => String((await admin.raw('show server_version')).rows[0].server_version),
    async drop() {
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

/** CPU seconds spent between two `backends()` readings (a backend that appeared counts whole). */
export function backendCpu(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, s] of after) total += s - (before.get(pid) ?? 0);
  return total;
}

/** The Redis of REDIS_URL, in a logical database of the bench's own (BENCH_REDIS_DB, 11). */
export function benchRedisUrl(base: string): string {
  const url = new URL(base);
  url.pathname = `/${process.env.BENCH_REDIS_DB ?? '11'}`;
  return url.toString();
}

/** Deletes the bench's keys (Gatehouse's fixed `gatehouse:` prefix and the bare one). */
export async function clearRedis(url: string, prefixes: string[]) {
  const redis = new Redis(url);
  let deleted = 0;
  for (const prefix of prefixes) {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length) deleted += await redis.unlink(...keys);
    }
  }
  const info = await redis.info('server');
  redis.disconnect();
  return { deleted, version: info.match(/redis_version:(\S+)/)?.[1] ?? '?' };
}

/** Redis server CPU seconds (the whole server: other clients of a shared Redis count too). */
export async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const v = (k: string) => Number(info.match(new RegExp(`${k}:([\\d.]+)`))?.[1] ?? 0);
  return v('used_cpu_user') + v('used_cpu_sys');
}

export const execFileAsync = promisify(execFile);

/** The Gatehouse CLI (`node src/cli.ts`) with the server's environment; its JSON output. */
export async function gatehouseCli(env: NodeJS.ProcessEnv, args: string[]) {
  const { stdout } = await execFileAsync(NODE, ['src/cli.ts', ...args], { cwd: ROOT, env });
  return JSON.parse(stdout) as Record<string, unknown>;
}

export interface Server extends Target {
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/** Spawns `args` with node and waits until `readyPath` answers 200 through the proxy headers. */
export async function startServer(name: Target['name'], args: string[], env: NodeJS.ProcessEnv, issuer: string, port: number, logDir: string, readyPath: string): Promise<Server> {
  const logFile = join(logDir, `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(NODE, args, { cwd: ROOT, env, stdio: ['ignore', out, out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: Server = {
    name,
    issuer,
    port,
    pid: child.pid!,
    child,
    logFile,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    const reply = await send(server, readyPath).catch(() => undefined);
    if (reply?.status === 200) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${name} did not answer ${readyPath} within 60 s (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

