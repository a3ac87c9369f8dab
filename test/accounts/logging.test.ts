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

  before(async () => {
    storage = await createStorage();
    port = await freePort();
    child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...storage.env, PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    while (!log.includes('Gatehouse is ready')) {
      if (child.exitCode !== null) throw new Error(`server exited: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await storage?.drop();
  });

  test('opening a confirmation or reset link logs no token; other requests are logged', async () => {
    const token = randomBytes(32).toString('base64url');
    for (const path of [`/verify-email?token=${token}`, `/reset-password?token=${token}`, '/forgot-password']) {
      await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    }
    while (!log.includes('/forgot-password')) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(!log.includes(token), 'no token in the log');
  });
});
