import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { defaults } from '../../config/defaults.ts';
import type { Config, Env } from '../../src/config.ts';
import type { OutboxMessage } from '../../src/email/outbox.repo.ts';
import { Browser } from '../helpers/browser.ts';
import type { TestServer } from '../helpers/server.ts';

/**
 * Config for e-mail tests: workers poll often and retry soon, so a test waits for what it
 * asserts on, not for production intervals. No assertion depends on how long anything took.
 */
export function fastEmail(over: Partial<Config['email']> = {}): Partial<Config> {
  return {
    jobs: { ...defaults.jobs, processEveryMs: 100, lockLifetimeMs: 1000 },
    email: { ...defaults.email, retryBaseSeconds: 1, retryMaxSeconds: 2, queuedGraceSeconds: 1, perAddressIntervalSeconds: 0, ...over },
  };
}

/** A resend job every second (cron with a seconds field). */
export const EVERY_SECOND = '* * * * * *';

/** Polls `check` until it returns a value; the test's timeout bounds the wait. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, everyMs = 50): Promise<T> {
  for (;;) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The outbox rows of an address, oldest first. */
export async function outboxTo(server: TestServer, address: string): Promise<OutboxMessage[]> {
  return (await server.email.outbox.repo.list()).filter((m) => m.toAddress === address).reverse();
}

/** A running worker process (test/email/worker-process.ts). */
export interface WorkerProcess {
  child: ChildProcess;
  /** SIGTERM and wait: a graceful stop. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash, with no chance to clean up. */
  kill(): Promise<void>;
}

const WORKER = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

/** Starts a worker process on `storage` (attaching to the embedded database of a running server). */
export async function spawnWorker(env: Env, overrides: Partial<Config>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(overrides)], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
  });
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { child, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}

/**
 * A browser with a client address of its own, for servers started with TRUST_PROXY=127.0.0.1:
 * the per-IP rate limits (src/security/rate-limits.ts) then count each simulated person apart,
 * as they would count people on different networks.
 */
export class PersonBrowser extends Browser {
  readonly ip = `10.${randomInt(256)}.${randomInt(256)}.${1 + randomInt(254)}`;
  override request(url: string, init: Parameters<Browser['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'x-forwarded-for': this.ip, ...init.headers } });
  }
}

/** Server env for tests that use PersonBrowser. */
export const BEHIND_PROXY = { TRUST_PROXY: '127.0.0.1' };
