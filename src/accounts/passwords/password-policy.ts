import { dictionary } from '@zxcvbn-ts/language-common';
import { translate } from '../../i18n/locale.ts';

/**
 * The password rules of NIST SP 800-63B-4 §3.1.1.2 (password verifiers) and OWASP ASVS 5 V6.2:
 * a minimum length (V6.2.1) and a generous maximum (V6.2.9: at least 64), no composition rules
 * (V6.2.5), no truncation (V6.2.8: a longer password is refused, never cut), every Unicode code
 * point counted as one character after NFKC normalisation, and a refusal of passwords that are
 * common or breached (V6.2.4, V6.2.12) or built from the account's own e-mail address, username
 * or name (V6.2.11, "context-specific words").
 */

export interface PasswordPolicy {
  /** At least this many characters (code points after NFKC). ASVS V6.2.1: 8 at the very least; we default to 12. */
  minLength: number;
  /** At most this many. ASVS V6.2.9: at least 64 must be allowed; beyond the maximum we refuse (V6.2.8: never truncate). */
  maxLength: number;
  /** Words of the service itself a password must not contain (800-63B: "the name of the service"). */
  blockedWords?: readonly string[];
}

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: 12, maxLength: 1024, blockedWords: ['gatehouse'] };

/** Who the password is for: their own identifiers are the first thing an attacker tries. */
export interface PasswordContext {
  email?: unknown;
  name?: unknown;
  username?: unknown;
}

// Personal words shorter than this are ordinary syllables ("al", "bob"): refusing every
// password that contains them would reject good passwords and protect nothing.
const MIN_PERSONAL_WORD = 4;

// Normalising megabytes costs CPU for an answer we already know. A code point is at most two
// UTF-16 units and NFKC composes at most four code points into one (Greek "ᾂ"), so a string
// longer than 8x the maximum in UTF-16 units is too long whatever it normalises to; 16x is margin.
const RAW_LENGTH_FACTOR = 16;

let commonPasswords: Set<string> | undefined;

/**
 * The ~49,000 most common passwords of @zxcvbn-ts/language-common (collected from breach
 * corpora), lower-cased: loaded once, on first use.
 */
function commonPasswordSet(): Set<string> {
  commonPasswords ??= new Set(dictionary['passwords-common'].map((p) => fold(p)));
  return commonPasswords;
}

/** NFKC then lower case: one spelling for look-alike and differently-cased forms. */
function fold(value: string): string {
  return value.normalize('NFKC').toLowerCase();
}

function personalWords(context: PasswordContext): string[] {
  const words = new Set<string>();
  // The context comes from the same request body as the password: anything not a string is ignored.
  const add = (value: unknown) => {
    const w = typeof value === 'string' ? fold(value).trim() : '';
    if ([...w].length >= MIN_PERSONAL_WORD) words.add(w);
  };
  if (typeof context.email === 'string') {
    const email = fold(context.email).trim();
    add(email);
    const local = email.slice(0, Math.max(0, email.lastIndexOf('@')));
    add(local);
    // "jane.doe+news" also yields "jane" and "news": each piece is as guessable as the whole.
    for (const piece of local.split(/[._+-]+/)) add(piece);
  }
  add(context.username);
  if (typeof context.name === 'string') {
    add(context.name);
    const parts = fold(context.name).split(/\s+/).filter(Boolean);
    add(parts.join(''));
    for (const part of parts) add(part);
  }
  return [...words];
}

/**
 * The policy's verdict on a new password: a sentence to show the user, or undefined when it is
 * acceptable. Call it wherever a password is set (registration, reset, change, CLI), with what
 * is known about the account, before hashing. The caller hashes the NFKC form
 * (`password.normalize('NFKC')`) so every spelling of one password verifies the same.
 */
export function checkPasswordPolicy(
  password: unknown,
  context: PasswordContext = {},
  policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY,
): string | undefined {
  if (typeof password !== 'string' || password.length === 0) return translate('password.required');
  const tooLong = translate('password.too_long', { max: policy.maxLength });
  if (password.length > policy.maxLength * RAW_LENGTH_FACTOR) return tooLong;
  // 800-63B-4 §3.1.1.2: normalise (NFKC) before counting; each code point is one character.
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < policy.minLength) return translate('password.too_short', { min: policy.minLength });
  if (length > policy.maxLength) return tooLong;
  const folded = normalized.toLowerCase();
  // ASVS V6.2.4, V6.2.12 / 800-63B-4 §3.1.1.2: refuse values known from breach corpora.
  if (commonPasswordSet().has(folded)) return translate('password.common');
  // ASVS V6.2.11 / 800-63B-4 §3.1.1.2: context-specific words.
  if (personalWords(context).some((word) => folded.includes(word))) {
    return translate('password.personal');
  }
  if ((policy.blockedWords ?? []).some((word) => word && folded.includes(fold(word)))) {
    return translate('password.service_name');
  }
  return undefined;
}
