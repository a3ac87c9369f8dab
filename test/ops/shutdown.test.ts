import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { createStorage, freePort, STORAGE, TEST_DATABASE_URL, type TestStorage } from '../helpers/server.ts';
import { startSmtp, type TestSmtp } from '../email/smtp.ts';

// Issue 10: on SIGTERM, `npm start` stops accepting, lets requests in flight and a running
// e-mail job finish, and exits 0 within SHUTDOWN_TIMEOUT_SECONDS; a stalled request body cannot
// hold it past that. The process is the real entry point, signalled as an orchestrator does.

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const TIMEOUT_SECONDS = 8;

interface Running {
  child: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function startGatehouse(storage: TestStorage, smtpUrl: string): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...storage.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SMTP_URL: smtpUrl,
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The server logs JSON lines on stdout; stderr holds only a start-up failure.
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  for (const deadline = Date.now() + 60_000; !output.includes('Gatehouse is ready'); await sleep(50)) {
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`Gatehouse did not start: ${output}`);
  }
  return { child, url: `http://127.0.0.1:${port}`, port, output: () => output, exited };
}

/** A `/token` request on a raw socket that declares `body` and sends its first half now. */
function halfSentTokenRequest(port: number, body: string) {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  const half = Math.floor(body.length / 2);
  socket.write(
    ['POST /token HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`, '', body.slice(0, half)].join('\r\n'),
  );
  return { rest: () => socket.write(body.slice(half)), closed };
}

// Slow process tests run in one storage mode only (the Postgres one), as CI asks.
describe(`SIGTERM (${STORAGE})`, { skip: !TEST_DATABASE_URL && 'a slow process test: run with DATABASE_URL' }, () => {
  let storage: TestStorage;
  let smtp: TestSmtp;
  before(async () => {
    storage = await createStorage({ redis: false });
    smtp = await startSmtp();
  });
  after(async () => {
    await smtp?.stop();
    await storage?.drop();
  });

  test('a request in flight is answered and a running e-mail send finishes, sent once; exit 0 within the timeout', async () => {
    const gatehouse = await startGatehouse(storage, smtp.url);
    try {
      // A registration whose confirmation the (inline) worker is sending to a slow relay.
      smtp.acceptDelayMs = 2_000;
      const email = `shutdown-${randomBytes(4).toString('hex')}@example.com`;
      const browser = new Browser();
      const page = await browser.request(`${gatehouse.url}/register`);
      const sent = await browser.submit(page, { name: 'Grace', email, password: 'a long and unguessable passphrase' }, { field: 'email' });
      assert.equal(sent.status, 200);
      await smtp.until((s) => s.dataStarted >= 1);

      // A token request whose body is half sent when the signal comes.
      const inFlight = halfSentTokenRequest(gatehouse.port, 'grant_type=client_credentials&client_id=nobody&client_secret=wrong');
      await sleep(100);
      const signalled = Date.now();
      gatehouse.child.kill('SIGTERM');
      await sleep(300);
      inFlight.rest();

      const answer = await inFlight.closed;
      assert.match(answer, /^HTTP\/1\.1 401 /, `the request in flight is answered: ${answer.slice(0, 200)}`);
      assert.match(answer, /"error":"invalid_client"/);

      const { code, signal, at } = await gatehouse.exited;
      assert.equal(signal, null, gatehouse.output().slice(-2000));
      assert.equal(code, 0, gatehouse.output().slice(-2000));
      assert.ok(at - signalled < TIMEOUT_SECONDS * 1000, `exited ${at - signalled} ms after SIGTERM`);
      assert.ok(gatehouse.output().includes('server shutting down'));

      // The send that was running finished before the exit: one message, no second attempt.
      assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(email)).length, 1);
      await sleep(1_000);
      assert.equal(smtp.dataStarted, 1, 'the message was not sent a second time');
    } finally {
      smtp.acceptDelayMs = 0;
      gatehouse.child.kill('SIGKILL');
    }
  });

  test('a request body that stalls does not hold the process: exit 0 once the close grace ends', async () => {
    const gatehouse = await startGatehouse(storage, smtp.url);
    try {
      const stalled = halfSentTokenRequest(gatehouse.port, 'grant_type=client_credentials&client_id=nobody');
      await sleep(100);
      const signalled = Date.now();
      gatehouse.child.kill('SIGTERM');
      const { code, at } = await gatehouse.exited;
      assert.equal(code, 0, gatehouse.output().slice(-2000));
      assert.ok(at - signalled < TIMEOUT_SECONDS * 1000, `exited ${at - signalled} ms after SIGTERM`);
      await stalled.closed;
    } finally {
      gatehouse.child.kill('SIGKILL');
    }
  });
});
