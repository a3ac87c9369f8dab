import { hash, verify } from '@node-rs/argon2';

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
      const target = stored ?? (await dummy);
      const ok = await verify(target, normalizePassword(password)).catch(() => false);
      return stored !== undefined && ok;
    },
    needsRehash: (stored) => !stored.startsWith(expected),
  };
}
