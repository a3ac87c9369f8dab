import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { LIMITS, parseLegacyHash } from '../../src/accounts/passwords/legacy-hashes.ts';
import { createPasswordHasher, NO_PASSWORD } from '../../src/accounts/passwords/hasher.ts';
import { FIREBASE_VECTOR, NO_PYTHON_TOOLS, realHashes, TYPED_PASSWORD } from './support.ts';

// Issue 14: every accepted format, as the real tools write it, verified by the hasher that
// sign-in uses (src/accounts/passwords/hasher.ts), with the right password and with wrong ones.
const hasher = createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

const SCHEMES: Record<string, string> = {
  'django-pbkdf2_sha256': 'django-pbkdf2_sha256',
  'django-pbkdf2_sha1': 'django-pbkdf2_sha1',
  'django-argon2': 'django-argon2',
  'django-bcrypt_sha256': 'django-bcrypt_sha256',
  'django-bcrypt': 'django-bcrypt',
  'django-scrypt': 'django-scrypt',
  'django-pbkdf2_sha256-1000': 'django-pbkdf2_sha256',
  'bcrypt-2a': 'bcrypt',
  'bcrypt-2b': 'bcrypt',
  'bcrypt-2y': 'bcrypt',
  argon2id: 'argon2id',
  argon2i: 'argon2i',
  scrypt: 'scrypt',
};

describe('hashes made by Django, bcrypt, argon2-cffi and passlib', { skip: NO_PYTHON_TOOLS }, () => {
  let hashes: Record<string, string>;
  before(async () => {
    hashes = await realHashes(TYPED_PASSWORD);
  });

  test('the tools made every format (passlib gives $2y$ and $scrypt$)', () => {
    assert.deepEqual(Object.keys(hashes).sort(), Object.keys(SCHEMES).sort());
  });

  for (const [format, scheme] of Object.entries(SCHEMES)) {
    test(`${format}: the password as typed verifies, a wrong one and its NFKC form do not`, async () => {
      const stored = hashes[format]!;
      const parsed = parseLegacyHash(stored);
      assert.equal(parsed?.scheme, scheme);
      assert.ok(parsed && 'check' in parsed, `${format} is accepted`);
      assert.equal(await hasher.verify(stored, TYPED_PASSWORD), true);
      assert.equal(await hasher.verify(stored, `${TYPED_PASSWORD}!`), false);
      assert.equal(await hasher.verify(stored, TYPED_PASSWORD.normalize('NFKC')), false);
      assert.equal(await hasher.verify(stored, ''), false);
      // A stored argon2id with other parameters is replaced at sign-in; so is every import.
      assert.equal(hasher.needsRehash(stored), true);
    });
  }

  test('a changed checksum character no longer verifies', async () => {
    for (const format of ['django-pbkdf2_sha256', 'bcrypt-2b', 'scrypt']) {
      const stored = hashes[format]!;
      const at = stored.length - 3;
      const tampered = stored.slice(0, at) + (stored[at] === 'A' ? 'B' : 'A') + stored.slice(at + 1);
      assert.equal(await hasher.verify(tampered, TYPED_PASSWORD), false, format);
    }
  });
});

describe('Firebase scrypt', () => {
  test("Firebase's published example verifies with its password and not another", async () => {
    assert.equal(parseLegacyHash(FIREBASE_VECTOR.hash)?.scheme, 'firebase-scrypt');
    assert.equal(await hasher.verify(FIREBASE_VECTOR.hash, FIREBASE_VECTOR.password), true);
    assert.equal(await hasher.verify(FIREBASE_VECTOR.hash, 'user2password'), false);
  });
});

describe('formats and parameters that are refused', () => {
  const outOfBounds = {
    'pbkdf2 with more iterations than the limit': `pbkdf2_sha256$${LIMITS.pbkdf2Iterations + 1}$salt$${Buffer.alloc(32).toString('base64')}`,
    'bcrypt cost 16': `$2b$16$${'a'.repeat(53)}`,
    'scrypt needing 1 GiB': `$scrypt$ln=20,r=8,p=1$c2FsdHNhbHQ$${Buffer.alloc(32).toString('base64').replace(/=/g, '')}`,
    'scrypt with N not a power of two': `scrypt$1000$salt$8$1$${Buffer.alloc(64).toString('base64')}`,
    'argon2id with 2 GiB': '$argon2id$v=19$m=2097152,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
  };
  for (const [name, stored] of Object.entries(outOfBounds)) {
    test(`${name}: a problem with its parameters, and no sign-in`, async () => {
      const parsed = parseLegacyHash(stored);
      assert.ok(parsed && 'problem' in parsed, `${name} is refused: ${JSON.stringify(parsed)}`);
      if (!stored.startsWith('$argon2id$')) assert.equal(await hasher.verify(stored, 'anything'), false);
    });
  }

  const unknown = [
    'md5$salt$5f4dcc3b5aa765d61d8327deb882cf99',
    'sha1$salt$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8',
    'unsalted_md5$5f4dcc3b5aa765d61d8327deb882cf99',
    `$2x$10$${'a'.repeat(53)}`,
    '$argon2d$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
    'password',
    'pbkdf2_sha512$1000$salt$aGFzaGhhc2hoYXNoaGFzaA==',
    'pbkdf2_sha256$1000$salt$not base64',
    'pbkdf2_sha256$1000$salt\u0000$aGFzaGhhc2hoYXNoaGFzaA==',
  ];
  test('unknown formats are not recognised, and never sign in', async () => {
    for (const stored of unknown) {
      assert.equal(parseLegacyHash(stored), undefined, stored);
      assert.equal(await hasher.verify(stored, 'password'), false, stored);
    }
  });

  test('an account without a password (none imported, or Django\'s unusable "!") never signs in', async () => {
    for (const stored of [NO_PASSWORD, '!CbnVXCgwP3D5VSmkwQjyzo1UHXQWOtk7k1oz5pqJ']) {
      assert.equal(await hasher.verify(stored, ''), false);
      assert.equal(await hasher.verify(stored, stored), false);
      assert.equal(await hasher.verify(stored, stored.slice(1)), false);
    }
  });
});
