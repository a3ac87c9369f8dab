import { createCipheriv, createHash, pbkdf2, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import { verify as argon2Verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

/**
 * Password hashes made by other systems, verified as they are stored, so that imported users
 * keep their passwords (issue 14; README "Moving from another identity provider"). Each format
 * runs on Node's crypto, @node-rs/argon2 or bcryptjs and compares in constant time. The
 * password is used as typed (UTF-8, not NFKC-normalised): that is what these systems hashed.
 * After the first successful sign-in accounts.service.ts replaces the hash with argon2id.
 *
 * Parameters are accepted however weak (the hash only has to survive until that sign-in), but
 * not unboundedly expensive: a hash that would tie up a CPU or memory for seconds at every
 * sign-in attempt is refused at import, where the admin can see it.
 */

export const LIMITS = {
  pbkdf2Iterations: 10_000_000,
  bcryptCost: 15,
  /** scrypt needs 128·N·r bytes. */
  scryptMemoryBytes: 256 * 1024 * 1024,
  scryptParallelism: 16,
  argon2MemoryKib: 1024 * 1024,
  argon2TimeCost: 32,
  argon2Parallelism: 64,
} as const;

/** What a stored hash is: a scheme name (as events and errors say it) and a verifier. */
export interface ParsedHash {
  scheme: string;
  check(password: string): Promise<boolean>;
}

/** A hash of a known scheme whose parameters are out of bounds or malformed. */
export interface HashProblem {
  scheme: string;
  problem: string;
}

type Parser = (hash: string) => ParsedHash | HashProblem | undefined;

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (password: BinaryLike, salt: BinaryLike, keylen: number, options: ScryptOptions) => Promise<Buffer>;

/** Constant time for equal lengths; the length of a stored hash is no secret. */
function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

const B64 = '[A-Za-z0-9+/]+={0,2}';
// passlib writes scrypt's salt and checksum in base64 without padding, some tools with '.'.
const B64_LOOSE = '[A-Za-z0-9+/.]+';

function b64(text: string): Buffer {
  return Buffer.from(text.replace(/\./g, '+'), 'base64');
}

function problem(scheme: string, text: string): HashProblem {
  return { scheme, problem: text };
}

// Django: pbkdf2_sha256$<iterations>$<salt>$<base64 of the derived key>; the salt is used as
// its UTF-8 text (django.contrib.auth.hashers.PBKDF2PasswordHasher).
const DJANGO_PBKDF2 = new RegExp(`^pbkdf2_(sha256|sha1)\\$(\\d{1,10})\\$([^$]{1,256})\\$(${B64})$`);
const djangoPbkdf2: Parser = (hash) => {
  const m = DJANGO_PBKDF2.exec(hash);
  if (!m) return undefined;
  const [, digest, iterText, salt, expectedText] = m as unknown as [string, string, string, string, string];
  const scheme = `django-pbkdf2_${digest}`;
  const iterations = Number(iterText);
  const expected = b64(expectedText);
  if (iterations < 1 || iterations > LIMITS.pbkdf2Iterations) return problem(scheme, `iterations must be from 1 to ${LIMITS.pbkdf2Iterations}`);
  if (expected.length < 16) return problem(scheme, 'the derived key is too short');
  return {
    scheme,
    check: async (password) => sameBytes(await pbkdf2Async(password, salt, iterations, expected.length, digest), expected),
  };
};

// bcrypt's modular crypt format: $2a$, $2b$ or $2y$ (all one algorithm in bcryptjs), a
// two-digit cost, 22 characters of salt and 31 of checksum.
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
function bcryptParser(scheme: string, prepare: (password: string) => string): (hash: string) => ParsedHash | HashProblem | undefined {
  return (hash) => {
    const m = BCRYPT.exec(hash);
    if (!m) return undefined;
    const cost = Number(m[1]);
    if (cost < 4 || cost > LIMITS.bcryptCost) return problem(scheme, `the cost must be from 4 to ${LIMITS.bcryptCost}`);
    const expected = Buffer.from(hash);
    return {
      scheme,
      check: async (password) => sameBytes(Buffer.from(await bcrypt.hash(prepare(password), hash.slice(0, 29))), expected),
    };
  };
}
const plainBcrypt = bcryptParser('bcrypt', (p) => p);
// Django's BCryptSHA256PasswordHasher: bcrypt of the hex SHA-256 of the password, so that
// passwords longer than bcrypt's 72 bytes are not cut.
const sha256Bcrypt = bcryptParser('django-bcrypt_sha256', (p) => createHash('sha256').update(p, 'utf8').digest('hex'));
const djangoBcrypt: Parser = (hash) => {
  if (hash.startsWith('bcrypt_sha256$')) return sha256Bcrypt(hash.slice('bcrypt_sha256$'.length)) ?? problem('django-bcrypt_sha256', 'not a bcrypt hash after the prefix');
  if (hash.startsWith('bcrypt$')) return renamed(plainBcrypt(hash.slice('bcrypt$'.length)), 'django-bcrypt') ?? problem('django-bcrypt', 'not a bcrypt hash after the prefix');
  return undefined;
};

function renamed<T extends ParsedHash | HashProblem>(parsed: T | undefined, scheme: string): T | undefined {
  return parsed && { ...parsed, scheme };
}

// PHC argon2 strings (RFC 9106 parameters): $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$salt$hash.
const ARGON2 = /^\$(argon2id|argon2i)\$(?:v=(?:16|19)\$)?m=(\d{1,8}),t=(\d{1,4}),p=(\d{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const argon2Phc: Parser = (hash) => {
  const m = ARGON2.exec(hash);
  if (!m) return undefined;
  const scheme = m[1]!;
  const [memory, time, lanes] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (memory > LIMITS.argon2MemoryKib) return problem(scheme, `m must be at most ${LIMITS.argon2MemoryKib} KiB`);
  if (time < 1 || time > LIMITS.argon2TimeCost) return problem(scheme, `t must be from 1 to ${LIMITS.argon2TimeCost}`);
  if (lanes < 1 || lanes > LIMITS.argon2Parallelism) return problem(scheme, `p must be from 1 to ${LIMITS.argon2Parallelism}`);
  return { scheme, check: (password) => argon2Verify(hash, password).catch(() => false) };
};
// Django's Argon2PasswordHasher: "argon2" followed by the PHC string.
const djangoArgon2: Parser = (hash) => (hash.startsWith('argon2$') ? (renamed(argon2Phc(hash.slice('argon2'.length)), 'django-argon2') ?? problem('django-argon2', 'not a PHC argon2 string after the prefix')) : undefined);

function scryptCheck(salt: Buffer | string, expected: Buffer, N: number, r: number, p: number) {
  return async (password: string) =>
    sameBytes(await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 128 * N * r + 1024 * 1024 }), expected);
}

function scryptProblem(N: number, r: number, p: number): string | undefined {
  if (N < 2 || (N & (N - 1)) !== 0) return 'N must be a power of two';
  if (r < 1 || 128 * N * r > LIMITS.scryptMemoryBytes) return `128·N·r must be at most ${LIMITS.scryptMemoryBytes} bytes`;
  if (p < 1 || p > LIMITS.scryptParallelism) return `p must be from 1 to ${LIMITS.scryptParallelism}`;
  return undefined;
}

// passlib's layout (also the PHC one): $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key>, salt and
// key base64 without padding; the salt is used as the decoded bytes.
const SCRYPT_PHC = new RegExp(`^\\$scrypt\\$ln=(\\d{1,2}),r=(\\d{1,3}),p=(\\d{1,3})\\$(${B64_LOOSE})\\$(${B64_LOOSE})$`);
const scryptPhc: Parser = (hash) => {
  const m = SCRYPT_PHC.exec(hash);
  if (!m) return undefined;
  const [N, r, p] = [2 ** Number(m[1]), Number(m[2]), Number(m[3])];
  const trouble = scryptProblem(N, r, p);
  if (trouble) return problem('scrypt', trouble);
  const expected = b64(m[5]!);
  if (expected.length < 16) return problem('scrypt', 'the derived key is too short');
  return { scheme: 'scrypt', check: scryptCheck(b64(m[4]!), expected, N, r, p) };
};

// Django 4's ScryptPasswordHasher: scrypt$<N>$<salt>$<r>$<p>$<base64 key>, salt as UTF-8 text.
const DJANGO_SCRYPT = new RegExp(`^scrypt\\$(\\d{1,10})\\$([^$]{1,256})\\$(\\d{1,3})\\$(\\d{1,3})\\$(${B64})$`);
const djangoScrypt: Parser = (hash) => {
  const m = DJANGO_SCRYPT.exec(hash);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[3]), Number(m[4])];
  const trouble = scryptProblem(N, r, p);
  if (trouble) return problem('django-scrypt', trouble);
  const expected = b64(m[5]!);
  if (expected.length < 16) return problem('django-scrypt', 'the derived key is too short');
  return { scheme: 'django-scrypt', check: scryptCheck(m[2]!, expected, N, r, p) };
};

// Firebase Authentication's modified scrypt, with the project's published hash parameters
// (Firebase console, "Password hash parameters") and the user's salt and hash from
// `firebase auth:export`, written as one string:
//   $firebase-scrypt$rounds=<rounds>,mem_cost=<mem_cost>$<signer key>$<salt separator>$<salt>$<hash>
// (all base64 as Firebase gives them). The key derived by scrypt(password, salt ‖ separator,
// N = 2^mem_cost, r = rounds, p = 1) encrypts the signer key with AES-256-CTR and a zero IV;
// the result is the stored hash (github.com/firebase/scrypt).
const FIREBASE = new RegExp(`^\\$firebase-scrypt\\$rounds=(\\d{1,2}),mem_cost=(\\d{1,2})\\$(${B64})\\$(${B64})\\$(${B64})\\$(${B64})$`);
const firebaseScrypt: Parser = (hash) => {
  const m = FIREBASE.exec(hash);
  if (!m) return undefined;
  const [r, N] = [Number(m[1]), 2 ** Number(m[2])];
  const trouble = scryptProblem(N, r, 1);
  if (trouble) return problem('firebase-scrypt', trouble);
  const [signerKey, separator, salt, expected] = [b64(m[3]!), b64(m[4]!), b64(m[5]!), b64(m[6]!)];
  if (signerKey.length === 0 || expected.length !== signerKey.length) return problem('firebase-scrypt', 'the hash must be as long as the signer key');
  const saltAndSeparator = Buffer.concat([salt, separator]);
  return {
    scheme: 'firebase-scrypt',
    async check(password) {
      const derived = await scryptAsync(password, saltAndSeparator, 64, { N, r, p: 1, maxmem: 128 * N * r + 1024 * 1024 });
      const cipher = createCipheriv('aes-256-ctr', derived.subarray(0, 32), Buffer.alloc(16));
      return sameBytes(Buffer.concat([cipher.update(signerKey), cipher.final()]), expected);
    },
  };
};

const PARSERS: Parser[] = [djangoPbkdf2, djangoBcrypt, djangoArgon2, djangoScrypt, plainBcrypt, argon2Phc, scryptPhc, firebaseScrypt];

/** What `user import` accepts, for its error message and the README. */
export const ACCEPTED_FORMATS =
  'pbkdf2_sha256$, pbkdf2_sha1$, argon2$, bcrypt_sha256$, bcrypt$, scrypt$ (Django), $2a$/$2b$/$2y$ (bcrypt), $argon2id$/$argon2i$, $scrypt$ln=..,r=..,p=..$ (passlib), $firebase-scrypt$';

// Printable ASCII: every accepted format is; anything else is no hash of ours.
const PRINTABLE = /^[\x21-\x7e]{1,2048}$/;

/** Parses a stored hash: its scheme and verifier, a problem with its parameters, or undefined. */
export function parseLegacyHash(hash: string): ParsedHash | HashProblem | undefined {
  if (!PRINTABLE.test(hash)) return undefined;
  for (const parse of PARSERS) {
    const parsed = parse(hash);
    if (parsed) return parsed;
  }
  return undefined;
}

/** The verifier of an acceptable hash, or undefined (unknown format or parameters out of bounds). */
export function legacyVerifier(hash: string): ParsedHash | undefined {
  const parsed = parseLegacyHash(hash);
  return parsed && 'check' in parsed ? parsed : undefined;
}

/** The scheme of a stored hash, for events: `argon2id`, `django-pbkdf2_sha256`, ... or `unknown`. */
export function hashScheme(hash: string): string {
  if (hash.startsWith('$argon2id$')) return 'argon2id';
  return parseLegacyHash(hash)?.scheme ?? 'unknown';
}
