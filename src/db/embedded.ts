import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket';
import { ExclusiveQueryQueue } from './pglite-queue.ts';

/**
 * The embedded database of `npm start` without DATABASE_URL: PGlite (Postgres compiled to
 * WebAssembly) kept under DATA_DIR and served on a loopback port by pglite-socket, so every
 * part of Gatehouse talks to it through the same `pg` driver as to a real server.
 *
 * Only one process may open a PGlite directory. The process that opens it (the owner) writes
 * `embedded.json` with its pid and port; the CLI and `npm run worker` started beside it
 * connect to that port instead of opening the directory a second time.
 *
 * Two properties of the multiplexed socket shape the rest of the code: a query on another
 * connection waits while a transaction is open (never await a second connection inside a
 * transaction), and LISTEN/NOTIFY does not cross connections (job pickup polls). Connections
 * take turns per query or per transaction (src/db/pglite-queue.ts).
 */

/** Serves `db` on 127.0.0.1 (a free port) through pglite-socket's protocol handler. */
async function serve(db: PGlite): Promise<{ port: number; close(): Promise<void> }> {
  const queryQueue = new ExclusiveQueryQueue(db);
  const handlers = new Set<PGLiteSocketHandler>();
  const server: Server = createServer((socket) => {
    const handler = new PGLiteSocketHandler({ queryQueue: queryQueue as never, closeOnDetach: true });
    handlers.add(handler);
    handler.addEventListener('close', () => handlers.delete(handler));
    handler.addEventListener('error', () => handlers.delete(handler));
    handler.attach(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      for (const handler of handlers) await handler.detach(true);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface EmbeddedDatabase {
  /** A postgres:// URL for the `pg` driver. */
  url: string;
  stop(): Promise<void>;
}

interface LockInfo {
  pid: number;
  port: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function readLock(file: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(file, 'utf8')) as LockInfo;
    if (info.pid !== process.pid && isAlive(info.pid) && (await portAnswers(info.port))) return info;
  } catch {
    // no lock, or a torn one: treat as free
  }
  return undefined;
}

export class EmbeddedInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`DATA_DIR ${dataDir} is in use by Gatehouse process ${pid}; stop it or set DATA_DIR to another folder`);
    this.name = 'EmbeddedInUseError';
  }
}

/**
 * Open (or attach to) the embedded database under `dataDir`.
 * With `attach: 'allow'` a running owner is reused; with `'refuse'` it is an error.
 */
export async function openEmbedded(
  dataDir: string,
  { attach }: { attach: 'allow' | 'refuse' },
): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true });
  const lockFile = join(dataDir, 'embedded.json');
  const running = await readLock(lockFile);
  if (running) {
    if (attach === 'refuse') throw new EmbeddedInUseError(dataDir, running.pid);
    return { url: `postgres://postgres@127.0.0.1:${running.port}/postgres`, stop: async () => {} };
  }

  const db = await PGlite.create(join(dataDir, 'pgdata'));
  const server = await serve(db);
  const { port } = server;
  const tmp = `${lockFile}.${process.pid}`;
  await writeFile(tmp, JSON.stringify({ pid: process.pid, port } satisfies LockInfo));
  await rename(tmp, lockFile);

  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      await db.close();
      await rm(lockFile, { force: true });
    },
  };
}
