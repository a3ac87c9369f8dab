import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createStorage, freePort, STORAGE, type TestStorage } from '../helpers/server.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

// Links carry their token in the query string; Fastify logs request URLs at info level.
describe(`mailed tokens never reach the logs (${STORAGE})`, () => {
  let storage: TestStorage;
  let port: number;
  let child: ReturnType<typeof spawn>;
  let log = '';

  /**
   * Resolves once the server has logged `text`; fails after `ms` with what it did log, or as soon
   * as it exits. A wait that could last forever would hide a server that never logs it.
   */
  function logged(text: string, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.stderr!.off('data', check);
        child.off('exit', exited);
        if (err) reject(err);
        else resolve();
      };
      const check = () => log.includes(text) && finish();
      const exited = () => finish(new Error(`the server exited before logging "${text}":\n${log}`));
      const timer = setTimeout(() => finish(new Error(`"${text}" was not logged within ${ms} ms:\n${log}`)), ms);
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', exited);
      check();
    });
  }

  before(async () => {
    storage = await createStorage();
    port = await freePort();
    child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...storage.env, PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await logged('Gatehouse is ready', 60_000);
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      // Gatehouse exits within 10 s of SIGTERM, by itself if need be (src/main.ts).
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await storage?.drop();
  });

  test('opening a confirmation or reset link logs no token; other requests are logged', async () => {
    const token = randomBytes(32).toString('base64url');
    for (const path of [`/verify-email?token=${token}`, `/reset-password?token=${token}`, '/forgot-password']) {
      await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    }
    // The requests were answered, so their log lines are written or about to be.
    await logged('/forgot-password', 5_000);
    assert.ok(!log.includes(token), 'no token in the log');
  });
});
