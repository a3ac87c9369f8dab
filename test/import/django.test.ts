import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import knexFactory from 'knex';
import * as oidc from 'openid-client';
import { EMAIL_TAKEN } from '../../src/accounts/import/import.service.ts';
import { json, runCli } from '../helpers/cli.ts';
import { authorize, createClient, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { djangoServer, NO_PYTHON_TOOLS, runPython } from './support.ts';

// `gatehouse user import --from-django postgres://...` against a database that Django's own
// `migrate` laid out, with users whose passwords Django's hashers made (test/import/django_db.py).
const server = NO_PYTHON_TOOLS ? { skip: NO_PYTHON_TOOLS } : await djangoServer();
const PASSWORD = 'an old Django passphrase';

type DjangoUsers = Record<string, { id: number; password: string; date_joined: string }>;
type Summary = { imported: number; skipped: number; errors: { line: number; error: string }[] };

describe(`gatehouse user import --from-django (${STORAGE})`, { skip: 'skip' in server ? server.skip : false }, () => {
  const ctx = useServer();
  const name = `django_${randomBytes(6).toString('hex')}`;
  let url: string;
  let users: DjangoUsers;
  let rp: oidc.Configuration;
  const knex = () => ctx.server.runtime.database.knex;
  const account = (email: string) => knex()('accounts').where({ email_normalized: email }).first();
  const importDjango = (...flags: string[]) => runCli(['user', 'import', '--from-django', url, ...flags], ctx.storage.env);
  const admin = () => knexFactory({ client: 'pg', connection: (server as { url: string }).url, pool: { min: 0, max: 1 } });

  before(async () => {
    const a = admin();
    await a.raw(`create database ${name}`);
    await a.destroy();
    const u = new URL((server as { url: string }).url);
    u.pathname = `/${name}`;
    url = u.toString();
    users = await runPython<DjangoUsers>('django_db.py', {
      url,
      users: [
        { username: 'alice', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell', password: PASSWORD },
        { username: 'Bob', email: 'Bob@Example.com', is_staff: true, password: PASSWORD, hasher: 'argon2' },
        { username: 'carol', email: 'carol@example.com', is_active: false, password: PASSWORD, hasher: 'bcrypt_sha256' },
        { username: 'dave@example.com', email: 'dave@example.com', password: PASSWORD, hasher: 'pbkdf2_sha1' },
        { username: 'BOB', email: 'bob.two@example.com', password: PASSWORD, hasher: 'bcrypt' },
        { username: 'eve', email: 'eve@example.com', password: null },
        { username: 'frank', email: '', password: PASSWORD },
        { username: 'alice2', email: 'ALICE@example.com', password: PASSWORD },
      ],
    });
    rp = await rpConfig(ctx.server, await createClient(ctx.server));
  });
  after(async () => {
    const a = admin();
    await a.raw(`drop database if exists ${name} with (force)`);
    await a.destroy();
  });

  test('Django users arrive with their passwords, names, active flags and join dates; staff stays staff only when asked', async () => {
    const dry = json<Summary>(await importDjango('--dry-run'));
    assert.equal(await account('alice@example.com'), undefined, 'the dry run stored nothing');

    const run = await importDjango('--verified');
    assert.equal(run.code, 0, run.stderr);
    const summary = json<Summary>(run);
    const expected = {
      imported: 6,
      skipped: 2,
      errors: [
        { line: users.frank!.id, error: 'no e-mail address (Gatehouse accounts sign in with one)' },
        { line: users.alice2!.id, error: `${EMAIL_TAKEN} (line ${users.alice!.id})` },
      ],
    };
    assert.deepEqual(summary, expected);
    assert.deepEqual(dry, expected, 'the dry run said the same');
    assert.match(run.stderr, /2 Django usernames were left out/);

    const alice = await account('alice@example.com');
    assert.equal(alice.password_hash, users.alice!.password);
    assert.match(alice.password_hash, /^pbkdf2_sha256\$/);
    assert.equal(alice.name, 'Alice Liddell');
    assert.equal(alice.username, 'alice');
    assert.equal(alice.disabled, false);
    assert.ok(alice.email_verified_at, '--verified');
    assert.equal(new Date(alice.created_at).getTime(), new Date(users.alice!.date_joined).getTime());
    const bob = await account('bob@example.com');
    assert.deepEqual(bob.roles, [], 'is_staff is not admin without --map-staff-to-admin');
    assert.equal(bob.username, 'Bob');
    assert.match(bob.password_hash, /^argon2\$argon2id\$/);
    assert.equal((await account('carol@example.com')).disabled, true, 'is_active false');
    assert.equal((await account('dave@example.com')).username, null, 'a username with @ does not fit ours');
    assert.equal((await account('bob.two@example.com')).username, null, '"BOB" is "Bob" to us: left out');
    assert.equal((await account('eve@example.com')).password_hash, '!', 'an unusable password is none');

    // Sign-in with the Django password, through the hosted login.
    for (const email of ['alice@example.com', 'bob@example.com', 'dave@example.com', 'bob.two@example.com']) {
      const result = await authorize(ctx.server, rp, { email, password: PASSWORD });
      const tokens = await oidc.authorizationCodeGrant(rp, result.callbackUrl, { pkceCodeVerifier: result.verifier, expectedState: result.state });
      assert.equal(String(tokens.claims()?.email).toLowerCase(), email, "the address as Django had it");
      assert.match((await account(email)).password_hash, /^\$argon2id\$/);
    }
    for (const email of ['carol@example.com', 'eve@example.com']) {
      await assert.rejects(authorize(ctx.server, rp, { email, password: PASSWORD }), /got 400/, `${email} cannot sign in`);
    }
    const [event] = await knex()('security_events').where({ type: 'users.imported' });
    assert.deepEqual(event.details, { source: 'django', imported: 6, skipped: 2, usernamesLeftOut: 2 });
  });

  test('run again with --map-staff-to-admin: only the new staff user is imported, as an admin', async () => {
    const added = await runPython<DjangoUsers>('django_db.py', {
      url,
      migrate: false,
      users: [{ username: 'heidi', email: 'heidi@example.com', is_staff: true, password: PASSWORD, hasher: 'pbkdf2_sha256' }],
    });
    const summary = json<Summary>(await importDjango('--map-staff-to-admin'));
    assert.equal(summary.imported, 1);
    assert.equal(summary.skipped, 8, "the eight users of the first run");
    assert.ok(!summary.errors.some((e) => e.line === added.heidi!.id));
    const heidi = await account('heidi@example.com');
    assert.deepEqual(heidi.roles, ['admin']);
    assert.equal(heidi.email_verified_at, null, 'addresses are unconfirmed without --verified');
  });
});
