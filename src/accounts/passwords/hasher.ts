import { hash, verify } from '@node-rs/argon2';
import { legacyVerifier } from './legacy-hashes.ts';

// @node-rs/argon2's Algorithm is an ambient const enum; 2 is Argon2id.
const ARGON2ID = 2;

export interface PasswordHasherOptions {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Constant-work verification; `undefined` hash verifies against a dummy so timing tells nothing. */
  verify(hash: string | undefined, password: string): Promise<boolean>;
  /** True when the stored hash was made with other parameters than the current ones. */
  needsRehash(hash: string): boolean;
}

/**
 * What an account without a password stores (an import line without `password_hash`, or
 * Django's unusable "!..." password): it never verifies; a password reset sets one.
 */
export const NO_PASSWORD = '!';

export function hasPassword(stored: string): boolean {
  return !stored.startsWith(NO_PASSWORD);
}

/** NIST SP 800-63B §5.1.1.2: compare passwords in a normalised Unicode form. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** argon2id via @node-rs/argon2 (OWASP parameters by default, see config/defaults.ts). */
export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  const params = { algorithm: ARGON2ID, ...options };
  const expected = `$argon2id$v=19$m=${options.memoryCost},t=${options.timeCost},p=${options.parallelism}$`;
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(normalizePassword(password), params),
    async verify(stored, password) {
      dummy ??= hash('gatehouse-dummy-password', params);
      if (stored !== undefined && !stored.startsWith('$argon2id$') && hasPassword(stored)) {
        // An imported hash (src/accounts/passwords/legacy-hashes.ts), checked against the password as typed.
        // The dummy argon2 alongside: a cheap old hash answers no sooner than an unknown login.
        const legacy = legacyVerifier(stored);
        if (legacy) {
          const [ok] = await Promise.all([legacy.check(password).catch(() => false), dummy.then((d) => verify(d, 'x')).catch(() => false)]);
          return ok;
        }
        stored = undefined;
      }
      const usable = stored !== undefined && hasPassword(stored);
      const target = usable ? stored! : await dummy;
      const normalized = normalizePassword(password);
      let ok = await verify(target, normalized).catch(() => false);
      // An imported argon2id hash was made from the password as typed, not its NFKC form.
      if (!ok && usable && normalized !== password) ok = await verify(target, password).catch(() => false);
      return usable && ok;
    },
    needsRehash: (stored) => !stored.startsWith(expected),
  };
}
