import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { json, runCli } from '../helpers/cli.ts';
import { authorize, createClient, rpConfig } from '../helpers/fixtures.ts';
import { createStorage, startServer, STORAGE, type TestServer, type TestStorage } from '../helpers/server.ts';
import { linkIn, startSmtp, type TestSmtp } from '../email/smtp.ts';
import { BEHIND_PROXY, fastEmail, PersonBrowser } from '../email/support.ts';
import { call } from '../first-party/support.ts';
import { FIREBASE_VECTOR, NO_PYTHON_TOOLS, realHashes, TYPED_PASSWORD } from './support.ts';

// Issue 14, "Must show": each imported format signs in through the hosted login with the
// right password and not with a wrong one, is then stored as argon2id, and signs in again.

/** A fresh browser (no session) at a client address of its own (TRUST_PROXY=127.0.0.1). */
function browserAt(ip: string): Browser {
  const browser = new Browser();
  const request = browser.request.bind(browser);
  browser.request = (url, init = {}) => request(url, { ...init, headers: { 'x-forwarded-for': ip, ...init.headers } });
  return browser;
}
describe(`imported password hashes at sign-in (${STORAGE})`, { skip: NO_PYTHON_TOOLS }, () => {
  let smtp: TestSmtp;
  let storage: TestStorage;
  let server: TestServer;
  let rp: oidc.Configuration;
  let firstParty: ClientMetadata;
  let hashes: Record<string, string>;
  const tag = randomBytes(3).toString('hex');
  const emailOf = (format: string) => `${format.replace(/[^a-z0-9]/g, '-')}-${tag}@example.com`;

  const stored = async (email: string) => ((await server.runtime.database.knex('accounts').where({ email_normalized: email }).first()) as { id: string; password_hash: string });
  const events = async (type: string, where: { account_id?: string; ip?: string }) =>
    (await server.runtime.database.knex('security_events').where({ type, ...where }).orderBy('id')) as { details: Record<string, unknown> }[];
  const signIn = (email: string, password: string, ip = new PersonBrowser().ip) => authorize(server, rp, { email, password }, { browser: browserAt(ip) });
  const signInFails = (email: string, password: string, ip?: string) => assert.rejects(signIn(email, password, ip), /expected a redirect to the client, got 400/);

  before(async () => {
    hashes = await realHashes(TYPED_PASSWORD);
    hashes.firebase = FIREBASE_VECTOR.hash;
    smtp = await startSmtp();
    storage = await createStorage();
    server = await startServer(storage, { SMTP_URL: smtp.url, ...BEHIND_PROXY }, fastEmail());
    rp = await rpConfig(server, await createClient(server));
    firstParty = await createClient(server, { firstParty: true, redirectUris: ['http://127.0.0.1:9/app'], public: true });
    const lines = [
      ...Object.entries(hashes).map(([format, hash]) => ({ email: emailOf(format), name: format, email_verified: true, password_hash: hash })),
      { email: emailOf('json-login'), email_verified: true, password_hash: hashes['django-pbkdf2_sha256'] },
      { email: emailOf('parallel'), email_verified: true, password_hash: hashes['django-pbkdf2_sha256'] },
      { email: emailOf('no-password'), email_verified: true },
    ];
    const file = join(tmpdir(), `gatehouse-import-${tag}.jsonl`);
    await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const summary = json(await runCli(['user', 'import', '--file', file], storage.env));
    assert.deepEqual(summary, { imported: lines.length, skipped: 0, errors: [] });
  });
  after(async () => {
    await server?.stop();
    await storage?.drop();
    await smtp?.stop();
  });

  const SCHEMES: Record<string, string> = {
    'django-pbkdf2_sha256-1000': 'django-pbkdf2_sha256',
    'bcrypt-2a': 'bcrypt',
    'bcrypt-2b': 'bcrypt',
    'bcrypt-2y': 'bcrypt',
    firebase: 'firebase-scrypt',
  };
  const formats = ['django-pbkdf2_sha256', 'django-pbkdf2_sha1', 'django-argon2', 'django-bcrypt_sha256', 'django-bcrypt', 'django-scrypt', 'django-pbkdf2_sha256-1000', 'bcrypt-2a', 'bcrypt-2b', 'bcrypt-2y', 'argon2id', 'argon2i', 'scrypt', 'firebase'];
  for (const format of formats) {
    test(`${format}: a wrong password fails, the right one signs in and the hash becomes argon2id, which signs in again`, async () => {
      const email = emailOf(format);
      const ip = new PersonBrowser().ip;
      const password = format === 'firebase' ? FIREBASE_VECTOR.password : TYPED_PASSWORD;
      const { id, password_hash: imported } = await stored(email);
      assert.equal(imported, hashes[format], 'kept as given');

      await signInFails(email, `${password} `, ip);
      assert.equal((await stored(email)).password_hash, imported, 'a failed sign-in changes nothing');

      const first = await signIn(email, password, ip);
      const tokens = await oidc.authorizationCodeGrant(rp, first.callbackUrl, { pkceCodeVerifier: first.verifier, expectedState: first.state });
      assert.equal(tokens.claims()?.sub, id);

      const { memoryCost, timeCost, parallelism } = server.config.argon2;
      const upgraded = (await stored(email)).password_hash;
      assert.ok(upgraded.startsWith(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=${parallelism}$`), upgraded);

      await signIn(email, password, ip);
      await signInFails(email, `${password}x`, ip);
      assert.equal((await stored(email)).password_hash, upgraded, 'upgraded once');

      const upgrades = await events('password.upgraded', { account_id: id });
      assert.deepEqual(upgrades.map((e) => e.details), [{ from: SCHEMES[format] ?? format }]);
      assert.doesNotMatch(JSON.stringify(upgrades), /\$/, 'no hash in the event');
      // The sign-in rules apply as to any account: each failure is a login.failed event.
      assert.equal((await events('login.failed', { ip })).length, 2);
      assert.equal((await events('login.succeeded', { account_id: id })).length, 2);
    });
  }

  test('POST /session/login verifies an imported hash and upgrades it the same way', async () => {
    const email = emailOf('json-login');
    const { id } = await stored(email);
    const login = (password: string) => call(server, '/session/login', { method: 'POST', origin: 'http://127.0.0.1:9', body: { client_id: firstParty.client_id, login: email, password } });
    assert.equal((await login('not it at all')).status, 401);
    const ok = await login(TYPED_PASSWORD);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body!.sub, id);
    assert.match((await stored(email)).password_hash, /^\$argon2id\$/);
    assert.deepEqual((await events('password.upgraded', { account_id: id })).map((e) => e.details), [{ from: 'django-pbkdf2_sha256' }]);
    assert.equal((await login(TYPED_PASSWORD)).status, 200);
  });

  test('two sign-ins at once both succeed; the hash is replaced once', async () => {
    const email = emailOf('parallel');
    const { id } = await stored(email);
    await Promise.all([signIn(email, TYPED_PASSWORD), signIn(email, TYPED_PASSWORD)]);
    assert.match((await stored(email)).password_hash, /^\$argon2id\$/);
    assert.equal((await events('password.upgraded', { account_id: id })).length, 1);
  });

  test('an account imported without a hash signs in after a password reset, not before', async () => {
    const email = emailOf('no-password');
    for (const guess of ['', '!', TYPED_PASSWORD]) await signInFails(email, guess);
    const browser = new PersonBrowser();
    const sent = await browser.submit(await browser.request(`${server.url}/forgot-password`), { email }, { field: 'email' });
    assert.equal(sent.status, 200);
    const link = linkIn(await smtp.messageTo(email), `${server.url}/reset-password?token=`);
    const newPassword = 'a fresh passphrase after the move';
    const done = await browser.submit(await browser.request(link), { new_password: newPassword }, { field: 'new_password' });
    assert.match(done.body, /Your password is changed/);
    // A sign-in within the second of the reset counts as before it (revocation.repo.ts).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await signIn(email, newPassword);
  });
});
