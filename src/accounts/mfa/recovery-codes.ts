import { randomInt } from 'node:crypto';
import { sha256 } from '../../crypto/secret-box.ts';

/**
 * Recovery codes: ten one-time codes shown once at enrolment, for when the authenticator is
 * lost. Ten characters of an alphabet without look-alikes (no 0/o, 1/l/i): about 49 bits each,
 * far beyond guessing under the sign-in throttle, so a plain SHA-256 digest stores them (as
 * e-mail link tokens are stored); a slow hash would only slow the sign-in.
 */
export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LENGTH = 10;

/** A new code as shown: `xxxxx-xxxxx`. */
function newRecoveryCode(): string {
  let raw = '';
  for (let i = 0; i < LENGTH; i++) raw += ALPHABET[randomInt(ALPHABET.length)];
  return `${raw.slice(0, 5)}-${raw.slice(5)}`;
}

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
}

/** What is stored of a code, however it was typed (case, spaces and the dash ignored); undefined if it cannot be one. */
export function recoveryCodeHash(typed: string): string | undefined {
  const normalized = typed.toLowerCase().replace(/[\s-]+/g, '');
  if (normalized.length !== LENGTH || ![...normalized].every((c) => ALPHABET.includes(c))) return undefined;
  return sha256(`recovery:${normalized}`);
}
