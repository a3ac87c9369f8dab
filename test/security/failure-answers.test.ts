import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { addressRateKey } from '../../src/security/rate-limits.ts';
import { createStorage, freePort, STORAGE, type TestStorage } from '../helpers/server.ts';

// Issue 15, findings 4 and 7: failures a client causes are answered in our words, with our
// headers, and are not reported as an outage. The server runs as its own process so its log
// is what an operator reads.
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-failures-'));
const configFile = join(dir, 'gatehouse.yaml');
writeFileSync(configFile, 'rateLimits:\n  clientRegistration: { max: 1, windowSeconds: 600 }\n  register: { max: 100, windowSeconds: 600 }\n');

/** Sends raw bytes and closes the connection at once, as a client that gives up does. */
function hangUp(port: number, bytes: string) {
  return new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      // After the server has started reading the body; a reset, as a client that crashes sends.
      socket.write(bytes, () =>
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, 150),
      );
    });
    socket.on('error', () => resolve());
  });
}

describe(`failures a client causes (${STORAGE})`, () => {
  let storage: TestStorage;
  let port: number;
  let url: string;
  let child: ReturnType<typeof spawn>;
  let log = '';

  before(async () => {
    storage = await createStorage();
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...storage.env, PORT: String(port), LOG_LEVEL: 'warn', GATEHOUSE_CONFIG: configFile },
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
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await storage?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a client that hangs up mid-body is not an outage: no error line, no TypeError', async () => {
    const before = log.length;
    for (const path of ['/register', '/session/login', '/session/refresh', '/forgot-password']) {
      const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1000\r\n\r\n`;
      await hangUp(port, `${head}email=someone`); // 13 of 1,000 bytes
      await hangUp(port, head);
      await hangUp(port, `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'still serving');
    const lines = log.slice(before);
    assert.doesNotMatch(lines, /unavailable|TypeError|"level":50|"level":60/, `nothing an operator would page on:\n${lines}`);
  });

  test('the per-address rate-limit key survives a socket already closed', () => {
    assert.equal(addressRateKey({ ip: '192.0.2.1' }), '192.0.2.1');
    assert.equal(addressRateKey({ ip: undefined, socket: { remoteAddress: '192.0.2.2' } }), '192.0.2.2');
    assert.equal(typeof addressRateKey({ ip: undefined, socket: { remoteAddress: undefined } }), 'string');
  });

  test('Node parser errors carry the security headers and our error words', async () => {
    const res = await fetch(`${url}/login`, { headers: { accept: 'text/html', 'x-big': 'a'.repeat(20_000) } });
    assert.equal(res.status, 431);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(res.headers.get('content-security-policy'), 'a CSP');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(((await res.json()) as { error: string }).error, 'HEADERS_TOO_LARGE');
  });

  test('framework codes never appear as error values', async () => {
    const res = await fetch(`${url}/register`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
    const body = (await res.json()) as { error: string };
    assert.equal(res.status, 415);
    assert.equal(body.error, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('/reg is a JSON API: its 429 is JSON even to a caller that accepts HTML', async () => {
    const reg = () => fetch(`${url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/html,application/json' }, body: '{}' });
    await (await reg()).text();
    const limited = await reg();
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(((await limited.json()) as { error: string }).error, 'RATE_LIMITED');
  });

  test('a NUL byte in the e-mail of the reset and resend forms fails no background job', async () => {
    const before = log.length;
    for (const path of ['/forgot-password', '/verify-email/resend']) {
      const browser = new Browser();
      const form = await browser.request(`${url}${path}`);
      assert.equal(form.status, 200, path);
      const sent = await browser.submit(form, { email: 'some\u0000one@example.com' }, { field: 'email' });
      assert.ok(sent.status < 500, `${path}: ${sent.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const lines = log.slice(before);
    assert.doesNotMatch(lines, /"level":50|0x00/, `no job failed in Postgres:\n${lines}`);
  });

  test('an oversized body on a provider route is a 413 in our words', async () => {
    const res = await fetch(`${url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&pad=${'a'.repeat(60 * 1024)}`,
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: string }).error, 'PAYLOAD_TOO_LARGE');
  });
});
