import type { Knex } from 'knex';
import { issuedBefore } from '../validity.ts';

/**
 * "Sign out everywhere" for an account: one instant, `accounts.sessions_revoked_at`, before
 * which every OIDC session, grant and token of the account counts as void.
 *
 * Why an instant rather than deleting records: oidc-provider's storage (Redis or Postgres)
 * finds grants and tokens by grant id only, never by account, so deleting them would mean
 * scanning every stored grant. Instead `findAccount` (src/oidc/provider.ts) refuses a token
 * issued before the instant (and one from a sign-in before it), and the login prompt asks a
 * session from before it to sign in again. Work is one primary-key read per look-up, and the
 * void records expire on their own TTLs.
 *
 * oidc-provider's `iat` and `loginTs` are whole seconds, so the instant is stored truncated to
 * its second, and everything stamped with that second counts as before it: a token issued a
 * moment before the reset never survives it. The price is that a sign-in within that same
 * second is asked for again, which no person typing a new password can run into.
 */
export function createRevocationRepo(knex: Knex) {
  return {
    async revokeSessions(accountId: string, trx: Knex = knex): Promise<void> {
      await trx('accounts').where({ id: accountId }).update({ sessions_revoked_at: trx.raw(`date_trunc('second', now())`) });
    },

    async revokedAt(accountId: string): Promise<Date | null> {
      const row = (await knex('accounts').where({ id: accountId }).first('sessions_revoked_at')) as { sessions_revoked_at: Date | null } | undefined;
      return row?.sessions_revoked_at ?? null;
    },
  };
}

/**
 * True when any of the given instants (epoch seconds: a token's `iat`, `iiat`, `authTime`, or a
 * session's `loginTs`) is not after the second of the account's last revocation.
 */
export async function issuedBeforeRevocation(knex: Knex, accountId: string, instants: (number | undefined)[]): Promise<boolean> {
  return issuedBefore(await createRevocationRepo(knex).revokedAt(accountId), instants);
}

