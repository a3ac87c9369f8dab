import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createStorage, freePort, STORAGE, type TestStorage } from '../helpers/server.ts';

const WORKER = fileURLToPath(new URL('../../src/worker.ts', import.meta.url));

describe(`npm run worker (${STORAGE})`, () => {
  let storage: TestStorage;
  before(async () => {
    storage = await createStorage({ redis: false });
  });
  after(async () => {
    await storage?.drop();
  });

  test('logs through pino to stderr, as the server logs, from ready to shutdown; nothing on stdout; metrics on METRICS_PORT', async () => {
    const metricsPort = await freePort();
    const child = spawn(process.execPath, [WORKER], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...storage.env, LOG_LEVEL: 'info', METRICS_PORT: String(metricsPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      for (const deadline = Date.now() + 60_000; !stderr.includes('Gatehouse worker is ready'); await sleep(50)) {
        if (child.exitCode !== null || Date.now() > deadline) assert.fail(`the worker did not start: ${stderr}`);
      }
      // The worker's own counters (it sends the e-mail), and the deployment's outbox backlog.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(metrics, /^gatehouse_outbox_backlog \d+$/m);
      assert.match(metrics, /^# TYPE gatehouse_emails_total counter$/m);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.equal(stdout, '');
    // pino's lines: level, time, pid, hostname, then the logger's name and the fields.
    const lines = stderr
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of lines) {
      assert.deepEqual(Object.keys(line).slice(0, 5), ['level', 'time', 'pid', 'hostname', 'name'], JSON.stringify(line));
      assert.equal(line.hostname, hostname());
      assert.equal(line.name, 'gatehouse-worker');
    }
    const ready = lines.find((l) => l.msg === 'Gatehouse worker is ready');
    assert.equal(ready?.level, 30);
    assert.equal(ready?.resendCron, '*/5 * * * *');
    assert.ok(lines.some((l) => l.msg === 'worker shutting down' && l.signal === 'SIGTERM'));
  });
});
