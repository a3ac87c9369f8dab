import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
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

/** Sends a body in chunks with no Content-Length (Transfer-Encoding: chunked). */
function sendChunked(url: string, type: string, chunks: Buffer[]) {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': type } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
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

  // Before the 429 test: /reg allows one request per address here, and this one is it.
  test('an oversized body sent chunked (no Content-Length) on a provider route is a 413 too', async () => {
    for (const [path, type] of [['/token', 'application/x-www-form-urlencoded'], ['/reg', 'application/json']] as const) {
      const res = await sendChunked(`${url}${path}`, type, Array.from({ length: 8 }, () => Buffer.alloc(10 * 1024, 'a')));
      assert.equal(res.status, 413, path);
      assert.match(res.type, /application\/json/, path);
      assert.equal((JSON.parse(res.body) as { error: string }).error, 'PAYLOAD_TOO_LARGE', path);
    }
    // Under the limit, a chunked body is read as ever.
    const small = await sendChunked(`${url}/token`, 'application/x-www-form-urlencoded', [Buffer.from('grant_type=client_'), Buffer.from('credentials')]);
    assert.equal(small.status, 400);
    assert.equal((JSON.parse(small.body) as { error: string }).error, 'invalid_request', 'no client authentication');
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

  test('a URL that cannot be decoded is a 400 in our words, with the security headers', async () => {
    for (const [path, accept, type] of [
      ['/%E0%A4%A', 'text/html', /text\/html/],
      ['/login/%ff', 'application/json', /application\/json/],
      ['/session/%E0%A4%A', 'text/html', /application\/json/],
    ] as const) {
      const res = await fetch(`${url}${path}`, { headers: { accept } });
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      const body = await res.text();
      if (type.test('application/json')) assert.equal((JSON.parse(body) as { error: string }).error, 'BAD_REQUEST', path);
      else assert.match(body, /<html[^>]*>[\s\S]*could not be read/, path);
      assert.doesNotMatch(body, /FST_/, path);
    }
  });

  test('a provider JSON route answers JSON: an error to a caller that prefers HTML, and a path or method it does not serve', async () => {
    const reg = await fetch(`${url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/html' }, body: '[]' });
    assert.match(reg.headers.get('content-type') ?? '', /application\/json/);
    assert.ok(((await reg.json()) as { error: string }).error, 'an OAuth error');
    for (const [method, path] of [['PATCH', '/token'], ['PUT', '/token'], ['GET', '/token/nothing']]) {
      const res = await fetch(`${url}${path}`, { method, headers: { accept: 'text/html' } });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${method} ${path}`);
      assert.equal(((await res.json()) as { error: string }).error, 'NOT_FOUND', `${method} ${path}`);
    }
  });

  test('a client hanging up mid-body on a provider route leaves nothing unstructured on stdout or stderr', async () => {
    const before = log.length;
    for (const path of ['/token', '/reg', '/token/introspection']) {
      await hangUp(port, `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1000\r\n\r\ngrant_type=cl`);
      await hangUp(port, `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'still serving');
    const lines = log.slice(before).split('\n').filter((line) => line.trim() !== '');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a JSON log line, not: ${line}`);
    assert.doesNotMatch(lines.join('\n'), /"level":50|"level":60/, 'nothing an operator would page on');
  });
});
