/**
 * How a person's identifiers are compared: lower-case, NFKC, trimmed, so two spellings of one
 * e-mail address (or username) are one account, one login-throttle counter, one look-up. A leaf:
 * accounts and the security controls both use it.
 */
export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}
