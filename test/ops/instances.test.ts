import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { defaults } from '../../config/defaults.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { json, runCli } from '../helpers/cli.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL, useServer, type TestServer } from '../helpers/server.ts';
import { startSmtp, type TestSmtp } from '../email/smtp.ts';
import { BEHIND_PROXY, EVERY_SECOND, fastEmail, PersonBrowser, spawnWorker, type WorkerProcess } from '../email/support.ts';

// Issue 10: two web processes and two workers on one Postgres and one Redis, as
// `docker compose up --scale app=2` runs them: nothing a request needs may live in one process.
// Both web processes have the same ISSUER (a load balancer's address in production); here the
// first one's, and each request is sent to the process the test names. A slow test: it runs in
// the Postgres+Redis mode only, as CI asks.

const throttle = { ...defaults.throttle, delay: { baseMs: 10, maxMs: 40 } };
const REGISTRATIONS = 100;

/** `rp` pointed at `server`: the same issuer and client, every endpoint on `server`'s address. */
function rpAt(rp: oidc.Configuration, server: TestServer, client: ClientMetadata): oidc.Configuration {
  const metadata = rp.serverMetadata();
  const moved = Object.fromEntries(
    Object.entries(metadata).map(([k, v]) => [k, typeof v === 'string' && k.endsWith('_endpoint') ? v.replace(metadata.issuer, server.url) : v]),
  );
  const config = new oidc.Configuration(moved as oidc.ServerMetadata, client.client_id, { client_secret: client.client_secret, redirect_uris: client.redirect_uris as string[] });
  oidc.allowInsecureRequests(config);
  return config;
}

describe('two web processes and two workers on one Postgres and Redis', { skip: !(TEST_DATABASE_URL && TEST_REDIS_URL) && 'a slow test: run with DATABASE_URL and REDIS_URL' }, () => {
  let smtp: TestSmtp;
  let b: TestServer;
  const workers: WorkerProcess[] = [];
  before(async () => {
    smtp = await startSmtp();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
  });
  const env = () => ({ SMTP_URL: smtp.url, WORKER: 'off', ...BEHIND_PROXY });
  const overrides = { throttle, keyPollSeconds: 1, ...fastEmail() };
  const { server: a, storage, another } = useServer({ env, overrides });
  after(async () => {
    await smtp?.stop();
  });
  before(async () => {
    b = await another({ env: { ...env(), ISSUER: a.url } });
    const workerEnv = { ...storage.env, ISSUER: a.url, SMTP_URL: smtp.url, EMAIL_RESEND_CRON: EVERY_SECOND, LOG_LEVEL: 'fatal' };
    workers.push(...(await Promise.all([spawnWorker(workerEnv, overrides), spawnWorker(workerEnv, overrides)])));
  });

  test('sign-in on one, code exchange and refresh on the other, userinfo on the first', async () => {
    const user = await createUser(a);
    const client = await createClient(a);
    const rpA = await rpConfig(a, client);
    const rpB = rpAt(rpA, b, client);
    const { callbackUrl, verifier, state } = await authorize(a, rpA, user, { scope: 'openid email offline_access', extra: { prompt: 'consent' } });
    const tokens = await oidc.authorizationCodeGrant(rpB, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const refreshed = await oidc.refreshTokenGrant(rpB, tokens.refresh_token!);
    const claims = await oidc.fetchUserInfo(rpA, refreshed.access_token, tokens.claims()!.sub);
    assert.equal(claims.email, user.email);
  });

  test('failed sign-ins are counted across both: the lock set by guesses on both holds on each', async () => {
    const victim = await createUser(a);
    const client = await createClient(a, { redirectUris: ['http://127.0.0.1:9/callback'] });
    const browser = new PersonBrowser();
    const url = new URL('/auth', a.url);
    url.search = new URLSearchParams({ client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/callback', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }).toString();
    const page = await browser.follow(url.toString());
    const path = page.body.match(/action="([^"]+\/login)"/)![1]!;
    const post = (server: TestServer, password: string) => browser.request(new URL(path, server.url).toString(), { form: { login: victim.email, password } });
    for (let i = 0; i < throttle.account.lockAfter; i++) {
      const wrong = await post(i % 2 ? b : a, `wrong password ${i}`);
      assert.equal(wrong.status, 400, `guess ${i + 1}`);
    }
    // Each process saw only half of the guesses: locked all the same, on both.
    for (const server of [a, b]) {
      const locked = await post(server, victim.password);
      // 429 "too many attempts" since issue 12 (it was 400, exactly like a wrong password).
      assert.equal(locked.status, 429, 'the right password is refused while the account is locked');
    }
  });

  test(`${REGISTRATIONS} registrations spread over both send ${REGISTRATIONS} confirmations, each exactly once`, async () => {
    const tag = randomBytes(3).toString('hex');
    const addresses = Array.from({ length: REGISTRATIONS }, (_, i) => `spread-${tag}-${i}@example.com`);
    const register = async (address: string, i: number) => {
      const server = i % 2 ? b : a;
      const person = new PersonBrowser();
      const form = await person.request(`${server.url}/register`);
      const sent = await person.submit(form, { name: 'Spread Test', email: address, password: 'a long and unguessable passphrase' }, { field: 'email' });
      assert.equal(sent.status, 200, `${address}: ${sent.body.slice(0, 200)}`);
    };
    for (let i = 0; i < addresses.length; i += 5) await Promise.all(addresses.slice(i, i + 5).map((address, j) => register(address, i + j)));

    await smtp.until((s) => addresses.every((to) => s.received.some((m) => m.envelopeTo.includes(to))));
    // A second send would come within the resend job's second: give it a few.
    await new Promise((r) => setTimeout(r, 3_000));
    for (const to of addresses) assert.equal(smtp.received.filter((m) => m.envelopeTo.includes(to)).length, 1, `exactly one message to ${to}`);
  });

  test('a key rotated through one is published by both, and both sign with it', async () => {
    const rotated = json<{ kid: string; keys: { kid: string }[] }>(await runCli(['keys', 'rotate'], storage.env));
    const published = async (server: TestServer) => {
      const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] };
      return jwks.keys.some((k) => k.kid === rotated.kid);
    };
    for (const deadline = Date.now() + 10_000; !((await published(a)) && (await published(b))); await new Promise((r) => setTimeout(r, 200))) {
      assert.ok(Date.now() < deadline, 'both publish the new key within seconds');
    }
    const user = await createUser(a);
    const client = await createClient(a);
    const rpA = await rpConfig(a, client);
    for (const server of [a, b]) {
      const rp = server === a ? rpA : rpAt(rpA, b, client);
      const { callbackUrl, verifier, state } = await authorize(server, rp, user);
      const tokens = await oidc.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
      const idTokenKid = decodeProtectedHeader(tokens.id_token!).kid;
      assert.ok(idTokenKid, 'the ID token names its key');
      assert.ok(rotated.keys.some((k) => k.kid === idTokenKid), `${server.url} signs with a rotated key (${idTokenKid})`);
    }
  });
});
