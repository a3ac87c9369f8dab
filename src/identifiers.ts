import { domainToASCII } from 'node:url';

/**
 * How a person's identifiers are compared: lower-case, NFKC, trimmed, so two spellings of one
 * e-mail address (or username) are one account, one login-throttle counter, one look-up. A leaf:
 * accounts and the security controls both use it.
 */
// C0 and C1 control characters (NUL, CR, LF...) are in no address or username.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The longest e-mail address (RFC 5321 §4.5.3.1.3, less the angle brackets); usernames are shorter. */
const MAX_IDENTIFIER_LENGTH = 254;

/**
 * Whether a login, e-mail address or username as typed (and trimmed) could name an account:
 * forms refuse one that cannot at the door (issue 15, finding 6), rather than answer "sent"
 * and pass a NUL byte on to the database.
 */
export function isPlausibleIdentifier(value: string): boolean {
  return value.length <= MAX_IDENTIFIER_LENGTH && !CONTROL.test(value);
}

/**
 * An e-mail address as accounts compare it: NFKC, trimmed, lower-case, and an internationalised
 * domain in its ASCII form (IDNA, `bücher.example` → `xn--bcher-kva.example`), so the Unicode and
 * the punycode spelling of one address are one account.
 */
export function normalizeEmail(email: string): string {
  const lowered = email.normalize('NFKC').trim().toLowerCase();
  const at = lowered.lastIndexOf('@');
  if (at < 0) return lowered;
  return `${lowered.slice(0, at)}@${asciiDomain(lowered.slice(at + 1))}`;
}

/** A domain in ASCII (punycode) form; as it was when it is not a domain IDNA accepts. */
export function asciiDomain(domain: string): string {
  if (/^[\x00-\x7f]*$/.test(domain)) return domain;
  return domainToASCII(domain) || domain;
}

export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}
