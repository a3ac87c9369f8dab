import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { json, runCli } from '../helpers/cli.ts';
import { createUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { EMAIL_TAKEN, USERNAME_TAKEN } from '../../src/accounts/import/import.service.ts';
import { FIREBASE_VECTOR } from './support.ts';

// `gatehouse user import --file F [--dry-run]` (CONTRACT.md, "Importing users"), run as an
// admin runs it, beside a running server (on the embedded default the CLI attaches to it).
describe(`gatehouse user import --file (${STORAGE})`, () => {
  const ctx = useServer();
  const tag = randomBytes(3).toString('hex');
  const at = (name: string) => `${name}-${tag}@example.com`;
  const PBKDF2 = `pbkdf2_sha256$870000$saltsaltsalt$${Buffer.alloc(32, 7).toString('base64')}`;

  const knex = () => ctx.server.runtime.database.knex;
  const accounts = async () => Number(((await knex()('accounts').count('* as n')) as { n: number }[])[0]!.n);
  const importFile = async (lines: (object | string)[], ...flags: string[]) => {
    const file = join(tmpdir(), `gatehouse-import-${tag}-${randomBytes(3).toString('hex')}.jsonl`);
    await writeFile(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
    return runCli(['user', 'import', '--file', file, ...flags], ctx.storage.env);
  };

  const mixed = () => [
    /* 1 */ { email: at('Ada'), name: 'Ada Lovelace', username: `ada${tag}`, email_verified: true, password_hash: PBKDF2 },
    /* 2 */ { email: at('grace'), name: 'Grace Hopper', username: `grace${tag}`, roles: ['admin'] },
    /* 3 */ '   ',
    /* 4 */ { email: at('ADA').toUpperCase(), password_hash: FIREBASE_VECTOR.hash },
    /* 5 */ '{"email": "broken@example.com",',
    /* 6 */ { email: at('md5'), password_hash: 'md5$salt$5f4dcc3b5aa765d61d8327deb882cf99' },
    /* 7 */ { email: at('other-grace'), username: `Grace${tag}` },
    /* 8 */ { email: at('existing') },
    /* 9 */ { email: at('copycat'), username: `existing${tag}` },
    /* 10 */ { email: at('typo'), passwordHash: PBKDF2 },
    /* 11 */ { email: at('roles'), roles: ['Admin!'] },
    /* 12 */ { email: 'not an address' },
    /* 13 */ { email: at('linus'), password_hash: FIREBASE_VECTOR.hash, email_verified: false },
  ];
  const mixedErrors = [
    { line: 4, error: `${EMAIL_TAKEN} (line 1)` },
    { line: 5, error: 'not valid JSON' },
    { line: 6, error: /^password_hash: unrecognised format \(accepted: .*pbkdf2_sha256\$.*\$argon2id\$.*\)$/ },
    { line: 7, error: `${USERNAME_TAKEN} (line 2)` },
    { line: 8, error: EMAIL_TAKEN },
    { line: 9, error: USERNAME_TAKEN },
    { line: 10, error: /^unknown field "passwordHash"/ },
    { line: 11, error: /^roles must be a list/ },
    { line: 12, error: 'email: Enter a valid e-mail address.' },
  ];
  function assertSummary(summary: { imported: number; skipped: number; errors: { line: number; error: string }[] }, imported: number) {
    assert.equal(summary.imported, imported);
    assert.equal(summary.skipped, mixedErrors.length);
    assert.deepEqual(summary.errors.map((e) => e.line), mixedErrors.map((e) => e.line));
    summary.errors.forEach((e, i) => (typeof mixedErrors[i]!.error === 'string' ? assert.equal(e.error, mixedErrors[i]!.error) : assert.match(e.error, mixedErrors[i]!.error as RegExp)));
    assert.doesNotMatch(JSON.stringify(summary), /5f4dcc3b|saltsalt/, 'no hash in the summary');
  }

  test('--dry-run reports what the import then does, and writes nothing; a bad line does not stop the rest', async () => {
    await createUser(ctx.server, { email: at('existing'), username: `existing${tag}` });
    const before = await accounts();

    const dry = await importFile(mixed(), '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assertSummary(json(dry), 3);
    assert.equal(await accounts(), before, 'a dry run stores nothing');
    assert.equal((await knex()('security_events').where({ type: 'users.imported' })).length, 0);

    const real = await importFile(mixed());
    assert.equal(real.code, 0, real.stderr);
    assertSummary(json(real), 3);
    assert.equal(await accounts(), before + 3);

    const ada = await knex()('accounts').where({ email_normalized: at('ada') }).first();
    assert.equal(ada.password_hash, PBKDF2, 'the hash is kept as given');
    assert.equal(ada.name, 'Ada Lovelace');
    assert.equal(ada.username, `ada${tag}`);
    assert.ok(ada.email_verified_at);
    assert.deepEqual(ada.roles, []);
    const grace = await knex()('accounts').where({ email_normalized: at('grace') }).first();
    assert.equal(grace.password_hash, '!', 'no hash: signs in after a password reset');
    assert.deepEqual(grace.roles, ['admin']);
    assert.equal(grace.email_verified_at, null);
    const linus = await knex()('accounts').where({ email_normalized: at('linus') }).first();
    assert.equal(linus.password_hash, FIREBASE_VECTOR.hash);

    const [event, ...more] = await knex()('security_events').where({ type: 'users.imported' });
    assert.equal(more.length, 0, 'one event per run, none for the dry run');
    assert.deepEqual(event.details, { source: 'file', imported: 3, skipped: 9, usernamesLeftOut: 0 });
  });

  test('running it again imports nothing twice: each account it made is an error line', async () => {
    const before = await accounts();
    const again = json<{ imported: number; skipped: number; errors: { line: number; error: string }[] }>(await importFile(mixed()));
    assert.equal(again.imported, 0);
    assert.equal(await accounts(), before);
    const byLine = new Map(again.errors.map((e) => [e.line, e.error]));
    for (const line of [1, 2, 13]) assert.equal(byLine.get(line), EMAIL_TAKEN);
    assert.equal(again.skipped, again.errors.length);
  });

  test('a long file: a progress line on stderr, every error of a second run listed in order', async () => {
    const lines = Array.from({ length: 12_000 }, (_, i) => ({ email: at(`bulk-${i}`) }));
    const first = await importFile(lines);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(json(first), { imported: 12_000, skipped: 0, errors: [] });
    assert.match(first.stderr, /^gatehouse: user import: 10000 lines read, 10000 imported, 0 skipped$/m);

    const second = await importFile(lines);
    const summary = json<{ imported: number; skipped: number; errors: { line: number; error: string }[] }>(second);
    assert.equal(summary.imported, 0);
    assert.equal(summary.skipped, 12_000);
    assert.deepEqual(summary.errors.map((e) => e.line), lines.map((_, i) => i + 1));
    assert.ok(summary.errors.every((e) => e.error === EMAIL_TAKEN));
    assert.match(second.stderr, /10000 lines read, 0 imported, 10000 skipped/);
  });

  test('usage: one source, a readable file, a postgres URL', async () => {
    const env = ctx.storage.env;
    const none = await runCli(['user', 'import'], env);
    assert.equal(none.code, 64);
    assert.match(none.stderr, /needs one of --file F or --from-django URL/);
    assert.equal((await runCli(['user', 'import', '--file', 'a', '--from-django', 'postgres://x/y'], env)).code, 64);
    assert.equal((await runCli(['user', 'import', '--from-django', 'mysql://x/y'], env)).code, 64);
    assert.equal((await runCli(['user', 'import', '--file', 'a', '--map-staff-to-admin'], env)).code, 64);
    const missing = await runCli(['user', 'import', '--file', join(tmpdir(), `absent-${tag}.jsonl`)], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read/);
    assert.equal(missing.stdout, '');
  });
});
