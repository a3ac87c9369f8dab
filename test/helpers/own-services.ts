import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server.ts';

/**
 * A `redis-server` and a Postgres of the test's own, on spare ports in temporary folders, that
 * the test stops (as a crash would) and starts again on the same port and data: the shared
 * services of the suite are never touched. Whatever happens, the processes and folders go when
 * the test process exits.
 */

const cleanups = new Set<() => void>();
process.once('exit', () => {
  for (const c of cleanups) c();
});

/** Resolves once something accepts TCP connections on `port`; throws after `ms`. */
async function waitForPort(port: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
      socket.setTimeout(500, () => resolve(false));
    }).then((ok) => ok);
    if (open) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface OwnService {
  port: number;
  url: string;
  /** Kills the process, as a crash would: no clean shutdown. */
  stop(): Promise<void>;
  /** Starts it again on the same port (and, for Postgres, the same data). */
  start(): Promise<void>;
  /** Stops it for good and removes its folder. */
  close(): Promise<void>;
}

/**
 * `persist`: an append-only file synced on every write, so that data survives a kill as in a
 * production Redis that keeps tokens (without it a restart starts empty).
 */
export async function ownRedis({ persist = false } = {}): Promise<OwnService> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  let child: ChildProcess | undefined;
  const kill = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const cleanup = () => {
    kill();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(cleanup);
  const service: OwnService = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const durability = persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...durability, '--daemonize', 'no', '--dir', dir], {
        stdio: 'ignore',
      });
      await waitForPort(port);
    },
    async stop() {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async close() {
      await service.stop();
      cleanup();
      cleanups.delete(cleanup);
    },
  };
  await service.start();
  return service;
}

/** initdb, pg_ctl and the rest, from the newest Postgres installed. */
function postgresBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const path = join(root, v, 'bin', tool);
    if (existsSync(path)) return path;
  }
  return tool; // on PATH, then
}

/** initdb refuses to run as root: as root, Postgres runs as the `postgres` user. */
const asRoot = process.getuid?.() === 0;
function command(tool: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', postgresBin(tool), ...args]] : [postgresBin(tool), args];
}
/** For the exit handler, where nothing asynchronous runs any more. */
function runSync(tool: string, args: string[], cwd: string) {
  const [cmd, argv] = command(tool, args);
  const res = spawnSync(cmd, argv, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (res.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${res.status}): ${res.stderr || res.stdout}`);
}
/** Asynchronous, so that the Gatehouse under test (in this process) keeps answering meanwhile. */
async function run(tool: string, args: string[], cwd: string) {
  const [cmd, argv] = command(tool, args);
  const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('exit', resolve));
  if (code !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${code}): ${out}`);
}

export async function ownPostgres(): Promise<OwnService> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  await run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '--no-instructions', '-E', 'UTF8'], dir);
  // fsync off: the machine does not crash, only Postgres does. Commits stay synchronous, so a
  // transaction reported committed survives the kill as it would in production.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off`;
  const stopSync = () => {
    if (!existsSync(join(data, 'postmaster.pid'))) return;
    try {
      runSync('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w'], dir);
    } catch {
      // already gone
    }
  };
  const cleanup = () => {
    stopSync();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(cleanup);
  const service: OwnService = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await run('pg_ctl', ['start', '-D', data, '-w', '-l', join(dir, 'log'), '-o', options], dir);
      await waitForPort(port);
    },
    async stop() {
      // Immediate: the postmaster and its backends quit at once, as in a crash.
      if (existsSync(join(data, 'postmaster.pid'))) await run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w'], dir);
    },
    async close() {
      cleanup();
      cleanups.delete(cleanup);
    },
  };
  try {
    await service.start();
  } catch (err) {
    cleanup();
    cleanups.delete(cleanup);
    throw err;
  }
  return service;
}
