import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createStorage, freePort, STORAGE, type TestStorage } from '../helpers/server.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

// The reference an error page shows is what support searches the logs for: the request id that
// the request's log lines carry (`reqId`). A real process, its real log.
describe(`an error page's reference is in the log (${STORAGE})`, () => {
  let storage: TestStorage;
  let port: number;
  let child: ReturnType<typeof spawn>;
  let log = '';

  async function until(check: () => boolean, what: string) {
    for (let waited = 0; !check(); waited += 100) {
      if (waited > 90_000 || child.exitCode !== null) throw new Error(`${what}:\n${log.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
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
    await until(() => log.includes('Gatehouse is ready'), 'the server did not start');
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await storage?.drop();
  });

  test('the 404 page shows the request id of the log lines of that request', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/nothing/here`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 404);
    const reference = /<p class="reference">[^<]*<code>([^<]+)<\/code>/.exec(await res.text())?.[1];
    assert.ok(reference, 'a reference on the page');
    await until(() => log.includes(reference), `no log line carries ${reference}`);
    const lines = log.split('\n').filter((line) => line.includes(reference)).map((line) => JSON.parse(line) as { reqId?: string; req?: { url?: string } });
    assert.ok(lines.every((line) => line.reqId === reference));
    assert.ok(lines.some((line) => line.req?.url === '/nothing/here'), 'the line of the request names its URL');
  });
});
