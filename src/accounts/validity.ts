import type { Account } from './accounts.repo.ts';

/**
 * Whether something issued to an account (a token, a session, a sign-in) still holds: `valid`,
 * or why not. The one rule (issue 8) that the provider (`findAccount`), `GET /session` and the
 * first-party refresh all apply:
 * - an account that is gone or disabled holds nothing;
 * - "sign out everywhere" (src/accounts/revocation) voids everything issued at or before the
 *   second of the account's last revocation.
 */
export type AccountValidity = 'valid' | 'disabled' | 'sessions_revoked';

/**
 * `instants` are epoch seconds (a token's `iat`, `iiat`, `authTime`, a session's `loginTs`);
 * undefined ones are skipped, and with none only the account itself is judged.
 */
export function accountValidity(account: Pick<Account, 'disabled' | 'sessionsRevokedAt'> | undefined, instants: (number | undefined)[]): AccountValidity {
  if (!account || account.disabled) return 'disabled';
  return issuedBefore(account.sessionsRevokedAt, instants) ? 'sessions_revoked' : 'valid';
}

/**
 * True when any of the given instants (epoch seconds) is not after the second of the
 * revocation (revocation.repo.ts says why the second counts as before).
 */
export function issuedBefore(revokedAt: Date | null, instants: (number | undefined)[]): boolean {
  if (!revokedAt) return false;
  const second = revokedAt.getTime() / 1000;
  return instants.some((t) => typeof t === 'number' && t <= second);
}

/** A Date as the whole epoch seconds the instants above are. */
export function epochSeconds(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}
