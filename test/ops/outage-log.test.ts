import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { tcpProxy } from '../helpers/proxy.ts';
import { createStorage, freePort, TEST_REDIS_URL, type TestStorage } from '../helpers/server.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

// Issue 15, finding 9: an outage is logged once when it starts, with a count when it ends, not
// a stack trace per failed request.
describe('a Redis outage in the log', { skip: !TEST_REDIS_URL && 'needs REDIS_URL' }, () => {
  let storage: TestStorage;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let child: ReturnType<typeof spawn>;
  let url: string;
  let log = '';

  before(async () => {
    const redis = new URL(TEST_REDIS_URL!);
    proxy = await tcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    storage = await createStorage({ redis: true });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...storage.env, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    for (let ready = false; !ready; ) {
      if (child.exitCode !== null) throw new Error(`server exited: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      ready = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    }
  });
  after(async () => {
    proxy?.resume();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await proxy?.close();
    await storage?.drop();
  });

  test('30 failed requests: one line when it starts, none per request', async () => {
    const start = log.length;
    proxy.cut();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      assert.equal(res.status, 503);
      await res.text();
    }
    const lines = log.slice(start).split('\n').filter((l) => l.includes('a dependency is unavailable'));
    assert.equal(lines.length, 1, `one line for the outage, not one per request:\n${lines.join('\n')}`);
    proxy.resume();
    // Failures stop: the end of the outage is one line with the count.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const end = log.slice(start).split('\n').filter((l) => l.includes('answers again'));
    assert.equal(end.length, 1, log.slice(start));
    assert.equal((JSON.parse(end[0]!) as { failedRequests: number }).failedRequests, 30);
  });
});
