import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { defaults } from '../../config/defaults.ts';
import type { Config } from '../../src/config.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { startSmtp, type TestSmtp } from '../email/smtp.ts';
import { EVERY_SECOND, fastEmail } from '../email/support.ts';
import { forms } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { ownPostgres, ownRedis, type OwnService } from '../helpers/own-services.ts';
import { freePort, startServer, TEST_DATABASE_URL, type TestServer } from '../helpers/server.ts';

// Issue 10 ("Must show", first bullet) and issue 15 (the outage run): Gatehouse under mixed
// traffic while its own Redis, then its own Postgres, is killed and started again. Every
// request is answered within 2 s, with its normal answer or a 503 in the documented shape;
// /readyz names the store that is down; traffic comes back without restarting Gatehouse; no
// registration, e-mail or token is lost. Runs in the Postgres+Redis mode of the suite only
// (the services here are its own either way).

const LIMIT_MS = 2_000;
const OUTAGE_MS = 6_000;
const APP_ORIGIN = 'http://127.0.0.1:9';
const PASSWORD = 'a long and unguessable passphrase';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Kind = 'token' | 'introspection' | 'login' | 'refresh' | 'register-form' | 'register' | 'readyz';
/** How a 503 must look: OAuth's JSON, the error page, or the first-party API's JSON. */
const SHAPE: Record<Kind, 'oauth' | 'page' | 'api'> = {
  token: 'oauth',
  introspection: 'oauth',
  login: 'api',
  refresh: 'api',
  'register-form': 'page',
  register: 'page',
  readyz: 'api',
};

interface Answer {
  kind: Kind;
  status: number;
  ms: number;
  at: number;
  phase: string;
  readiness?: { status: string; checks: Record<string, string> };
}

const sorted = (o: Record<string, string>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
const sameAs = (a: Record<string, string>, b: Record<string, string>) => sorted(a) === sorted(b);

describe('mixed traffic while Redis, then Postgres, stops and comes back', { skip: !TEST_DATABASE_URL && 'runs in the Postgres+Redis mode' }, () => {
  let pg: OwnService;
  let redis: OwnService;
  let smtp: TestSmtp;
  let server: TestServer;
  let db: Knex;
  let machine: ClientMetadata;
  let app: ClientMetadata;
  let user: TestUser;

  before(async () => {
    // Redis keeps what it holds across the kill, as a production Redis holding tokens must.
    [pg, redis, smtp] = await Promise.all([ownPostgres(), ownRedis({ persist: true }), startSmtp()]);
    const roomy = { max: 100_000, windowSeconds: 60 };
    const overrides: Partial<Config> = {
      ...fastEmail(),
      jobs: { ...defaults.jobs, processEveryMs: 500, lockLifetimeMs: 1000 },
      // The traffic comes from one address: the limits are not what this test is about.
      rateLimits: { ...defaults.rateLimits, register: roomy, sessionLogin: roomy, sessionRefresh: roomy },
    };
    const storage = { env: { DATABASE_URL: pg.url, REDIS_URL: redis.url, REDIS_PREFIX_FOR_TESTS: 'gatehouse:outage:' }, drop: async () => {} };
    server = await startServer(storage, { SMTP_URL: smtp.url, EMAIL_RESEND_CRON: EVERY_SECOND, LOG_LEVEL: 'error' }, overrides);
    db = knexFactory({ client: 'pg', connection: pg.url, pool: { min: 0, max: 2 } });
    machine = await createClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' });
    app = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/app`], public: true });
    user = await createUser(server);
  });
  after(async () => {
    await db?.destroy();
    await server?.stop();
    await smtp?.stop();
    await redis?.close();
    await pg?.close();
  });

  test('every request answered within 2 s with its answer or a clear 503; nothing lost; back without a restart', async () => {
    const answers: Answer[] = [];
    const problems: string[] = [];
    let phase = 'warm-up';
    let running = true;
    const t0 = Date.now();

    /** One timed request; checks the time, the status and, for a 503, its shape. */
    async function call(kind: Kind, url: string, init: RequestInit, ok: number[]): Promise<{ res: Response; text: string } | undefined> {
      const start = Date.now();
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${server.url}${url}`, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
        text = await res.text();
      } catch (err) {
        problems.push(`${phase} ${kind}: no answer (${(err as Error).message}) after ${Date.now() - start} ms`);
        return undefined;
      }
      const ms = Date.now() - start;
      const answer: Answer = { kind, status: res.status, ms, at: start - t0, phase };
      answers.push(answer);
      const what = `${phase} ${kind} ${res.status} after ${ms} ms`;
      if (ms > LIMIT_MS) problems.push(`${what}: slower than ${LIMIT_MS} ms`);
      if (res.status === 503) {
        const retryAfter = res.headers.get('retry-after') ?? '';
        if (!/^\d+$/.test(retryAfter)) problems.push(`${what}: Retry-After ${JSON.stringify(retryAfter)}`);
        const type = res.headers.get('content-type') ?? '';
        const shape = SHAPE[kind];
        if (shape === 'page') {
          if (!/text\/html/.test(type) || !/<html/i.test(text)) problems.push(`${what}: not the error page: ${type} ${text.slice(0, 200)}`);
        } else {
          let body: { error?: string; error_description?: string; message?: string } = {};
          try {
            body = JSON.parse(text) as typeof body;
          } catch {
            problems.push(`${what}: not JSON: ${text.slice(0, 200)}`);
          }
          if (shape === 'oauth' && (body.error !== 'temporarily_unavailable' || !body.error_description)) problems.push(`${what}: not temporarily_unavailable: ${text}`);
          if (shape === 'api' && kind !== 'readyz' && (!body.error || !body.message)) problems.push(`${what}: no error and message: ${text}`);
        }
      } else if (!ok.includes(res.status)) {
        problems.push(`${what}: unexpected status: ${text.slice(0, 300)}`);
      }
      if (kind === 'readyz') answer.readiness = JSON.parse(text) as Answer['readiness'];
      return { res, text };
    }

    const basic = `Basic ${Buffer.from(`${machine.client_id}:${machine.client_secret}`).toString('base64')}`;
    const oauthForm = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
    const issued: string[] = [];

    async function tokens() {
      while (running) {
        const got = await call('token', '/token', { method: 'POST', headers: oauthForm, body: 'grant_type=client_credentials' }, [200]);
        if (got?.res.status === 200) issued.push((JSON.parse(got.text) as { access_token: string }).access_token);
        await sleep(30);
      }
    }

    async function introspection() {
      while (running) {
        const token = issued[Math.floor(Math.random() * issued.length)];
        if (token) {
          const got = await call('introspection', '/token/introspection', { method: 'POST', headers: oauthForm, body: `token=${token}` }, [200]);
          if (got?.res.status === 200 && (JSON.parse(got.text) as { active: boolean }).active !== true) problems.push(`${phase} introspection: an issued token is not active`);
        }
        await sleep(30);
      }
    }

    // The newest refresh token of the first-party session, and its access token.
    let session: { rt: string; at: string } | undefined;
    const cookiesOf = (res: Response) => Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=') as [string, string]));
    const sessionHeaders = (rt?: string) => ({ 'content-type': 'application/json', accept: 'application/json', origin: APP_ORIGIN, ...(rt ? { cookie: `gatehouse_rt=${rt}` } : {}) });
    async function firstParty() {
      while (running) {
        const login = await call('login', '/session/login', { method: 'POST', headers: sessionHeaders(), body: JSON.stringify({ client_id: app.client_id, login: user.email, password: user.password }) }, [200]);
        if (login?.res.status === 200) {
          const c = cookiesOf(login.res);
          session = { rt: c.gatehouse_rt!, at: c.gatehouse_at! };
        }
        for (let i = 0; i < 5 && running && session; i++) {
          const refreshed = await call('refresh', '/session/refresh', { method: 'POST', headers: sessionHeaders(session.rt), body: '{}' }, [200]);
          if (refreshed?.res.status === 200) {
            const c = cookiesOf(refreshed.res);
            session = { rt: c.gatehouse_rt!, at: c.gatehouse_at! };
          }
          await sleep(50);
        }
      }
    }

    const registered: string[] = [];
    const attempted: string[] = [];
    async function registrations() {
      while (running) {
        const start = Date.now();
        const formPage = await call('register-form', '/register', { headers: { accept: 'text/html' } }, [200]);
        if (formPage?.res.status === 200) {
          // Posted as a browser would: the form's fields (its CSRF token) with the cookie it set.
          const form = forms(formPage.text, `${server.url}/register`).find((f) => 'email' in f.fields);
          const email = `outage-${randomBytes(5).toString('hex')}@example.com`;
          const cookie = formPage.res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
          attempted.push(email);
          const posted = await call(
            'register',
            new URL(form!.action).pathname,
            {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie },
              body: new URLSearchParams({ ...form!.fields, name: 'Outage Tester', email, password: PASSWORD }).toString(),
            },
            [303],
          );
          if (posted?.res.status === 303) registered.push(email);
        }
        await sleep(Math.max(0, 150 - (Date.now() - start)));
      }
    }

    async function readiness() {
      while (running) {
        await call('readyz', '/readyz', {}, [200]);
        await sleep(200);
      }
    }

    const traffic = Promise.all([tokens(), introspection(), firstParty(), registrations(), readiness()]);
    const marks: Record<string, number> = {};
    const enter = (name: string) => {
      phase = name;
      marks[name] = Date.now() - t0;
    };
    try {
      await sleep(2_000);
      enter('redis-down');
      await redis.stop();
      await sleep(OUTAGE_MS);
      enter('redis-back');
      await redis.start();
      await sleep(5_000);
      enter('postgres-down');
      await pg.stop();
      await sleep(OUTAGE_MS);
      enter('postgres-back');
      await pg.start();
      await sleep(6_000);
      enter('settled');
      await sleep(3_000);
    } finally {
      running = false;
      await traffic;
    }

    // Grouped: one line per kind of problem, with how often it happened.
    const grouped = new Map<string, number>();
    for (const p of problems) grouped.set(p.replace(/ after \d+ ms/, ''), (grouped.get(p.replace(/ after \d+ ms/, '')) ?? 0) + 1);
    assert.deepEqual([...grouped].map(([p, n]) => `${n}× ${p}`).slice(0, 20), [], `${problems.length} problems`);
    const of = (p: string, kind?: Kind) => answers.filter((a) => a.phase === p && (!kind || a.kind === kind));

    // Each outage was real (a store down answers 503), and /readyz named the right store.
    // (With Postgres down, client credentials still work: the client is cached in memory and
    // the token is stored in Redis.)
    for (const [p, down, needed] of [
      ['redis-down', { database: 'ok', jobs: 'ok', redis: 'unavailable' }, ['token', 'login', 'register']],
      ['postgres-down', { database: 'unavailable', jobs: 'unavailable', redis: 'ok' }, ['login', 'refresh', 'register']],
    ] as const) {
      for (const kind of needed) {
        assert.ok(of(p, kind).some((a) => a.status === 503), `${p}: ${kind} said unavailable (${of(p, kind).map((a) => a.status).join(' ')})`);
      }
      const named = of(p, 'readyz').filter((a) => a.at > marks[p]! + 500);
      assert.ok(named.length > 0 && named.every((a) => a.status === 503 && a.readiness!.status === 'unavailable' && sameAs(a.readiness!.checks, down)), `${p}: /readyz ${JSON.stringify(named.map((a) => a.readiness))}`);
    }
    // Back without restarting Gatehouse: every kind of request succeeds again soon after each
    // store returns, and once settled nothing fails at all.
    for (const [p, within] of [['redis-back', 4_000], ['postgres-back', 5_000]] as const) {
      for (const kind of ['token', 'introspection', 'login', 'refresh', 'register', 'readyz'] as const) {
        const first = of(p, kind).find((a) => a.status < 400);
        assert.ok(first && first.at - marks[p]! <= within, `${p}: ${kind} succeeded ${first ? first.at - marks[p]! : 'never'} ms after the store came back`);
      }
    }
    const settled = of('settled');
    assert.ok(settled.length > 20, 'traffic kept flowing');
    assert.deepEqual(settled.filter((a) => a.status >= 400).map((a) => `${a.kind} ${a.status}`), [], 'once settled, every request succeeds');

    // Every token issued, before, between and after the outages, still works.
    assert.ok(issued.length > 20, `tokens issued: ${issued.length}`);
    const inactive: number[] = [];
    for (const [i, token] of issued.entries()) {
      const res = await fetch(`${server.url}/token/introspection`, { method: 'POST', headers: oauthForm, body: `token=${token}` });
      if (((await res.json()) as { active?: boolean }).active !== true) inactive.push(i);
    }
    assert.deepEqual(inactive, [], `of ${issued.length} tokens issued, these no longer work`);
    // The first-party session too: its access cookie reads the session, its refresh token rotates.
    assert.ok(session);
    const me = await fetch(`${server.url}/session`, { headers: { accept: 'application/json', cookie: `gatehouse_at=${session.at}` } });
    assert.equal(me.status, 200, await me.text());
    const last = await fetch(`${server.url}/session/refresh`, { method: 'POST', headers: sessionHeaders(session.rt), body: '{}' });
    assert.equal(last.status, 200, await last.text());

    // No registration lost: each one answered with success has its account and its mail; any
    // account made (even one whose answer was lost) has its mail; none is half-written.
    assert.ok(registered.length >= 5, `registrations: ${registered.length} of ${attempted.length}`);
    const accounts = new Set((await db('accounts').whereIn('email_normalized', attempted).select('email_normalized')).map((r: { email_normalized: string }) => r.email_normalized));
    for (const email of registered) assert.ok(accounts.has(email), `${email} was told "registered" but has no account`);
    // Every confirmation is sent and recorded as sent (a send whose record met the outage is
    // recorded once Postgres is back, not sent again when its lease runs out), exactly once.
    const unsent = async () =>
      (await db('email_outbox').whereIn('to_address', attempted).select('to_address', 'template', 'status')).filter((m: { status: string }) => m.status !== 'sent');
    for (let i = 0; i < 100 && (await unsent()).length; i++) await sleep(200);
    assert.deepEqual(await unsent(), [], 'every confirmation in the outbox is sent');
    const outbox = await db('email_outbox').whereIn('to_address', attempted).select('to_address');
    assert.deepEqual(outbox.map((m: { to_address: string }) => m.to_address).sort(), [...accounts].sort(), 'one confirmation per account, none without one');
    for (const email of accounts) {
      const mails = smtp.received.filter((m) => m.envelopeTo.includes(email));
      assert.deepEqual(mails.map((m) => m.subject), ['Confirm your e-mail address'], `the mails ${email} received`);
    }

    const slowest = Math.max(...answers.map((a) => a.ms));
    process.stdout.write(`# ${answers.length} requests, slowest ${slowest} ms; ${registered.length}/${attempted.length} registrations; ${issued.length} tokens\n`);
  });
});

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

// Issue 15, finding 9: an outage is logged once per state change, never per failed request, and
// every line is JSON (the connection pool printed plain-text stacks; the job notification
// channel logged each of its 100 ms reconnects). A server process of its own, as deployed, so
// that every line it writes, on stdout and stderr, is seen.
describe('the log of a server whose Redis, then Postgres, goes away', { skip: !TEST_DATABASE_URL && 'runs in the Postgres+Redis mode' }, () => {
  let pg: OwnService;
  let redis: OwnService;
  let child: ChildProcess;
  let url: string;
  let out = '';

  before(async () => {
    [pg, redis] = await Promise.all([ownPostgres(), ownRedis()]);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: pg.url, REDIS_URL: redis.url, PORT: String(port), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    for (let ready = false; !ready; ) {
      if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
      await sleep(100);
      ready = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    }
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await redis?.close();
    await pg?.close();
  });

  /** `count` requests that need the store that is down, each answered 503. */
  async function failMany(count: number) {
    const basic = `Basic ${Buffer.from('nobody:secret').toString('base64')}`;
    for (let i = 0; i < count; i++) {
      const res = await fetch(`${url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body: 'grant_type=client_credentials' });
      assert.equal(res.status, 503, await res.text());
    }
  }

  /** The lines written from `from` on: all JSON, or the test fails naming the first that is not. */
  function linesFrom(from: number) {
    const lines = out.slice(from).split('\n').filter(Boolean);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON line: ${line}`);
    return lines.map((l) => JSON.parse(l) as { msg: string });
  }

  test('200 failed requests in each outage: a handful of JSON lines, not one per request', async () => {
    for (const service of [redis, pg]) {
      const from = out.length;
      await service.stop();
      await failMany(200);
      await sleep(5_000);
      await service.start();
      // Until the server answers again, then past the quiet period that ends an outage in the log.
      for (let i = 0; i < 100 && (await fetch(`${url}/readyz`)).status !== 200; i++) await sleep(100);
      await sleep(12_000);
      const lines = linesFrom(from);
      process.stdout.write(`# ${service === redis ? 'Redis' : 'Postgres'} outage: ${lines.length} lines: ${JSON.stringify(lines.map((l) => l.msg))}\n`);
      assert.ok(lines.length <= 10, `${lines.length} lines for an outage of 200 failed requests:\n${lines.map((l) => l.msg).join('\n')}`);
    }
  });
});
