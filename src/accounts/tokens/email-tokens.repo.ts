import type { Knex } from 'knex';
import { randomToken, sha256 } from '../../crypto/secret-box.ts';

/** What a mailed link does: confirm the address, or reset the password. */
export type TokenPurpose = 'verify' | 'reset';

export interface EmailToken {
  accountId: string;
  purpose: TokenPurpose;
  interactionUid: string | null;
  expiresAt: Date;
  usedAt: Date | null;
}

/** Why a link no longer works; each page says it in its own words. */
export type TokenProblem = 'invalid' | 'expired' | 'used';

interface TokenRow {
  account_id: string;
  purpose: TokenPurpose;
  interaction_uid: string | null;
  expires_at: Date;
  used_at: Date | null;
}

const toToken = (r: TokenRow): EmailToken => ({ accountId: r.account_id, purpose: r.purpose, interactionUid: r.interaction_uid, expiresAt: r.expires_at, usedAt: r.used_at });

// 32 random bytes in base64url: 43 characters. Anything else cannot be a token of ours.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Single-use links: the token is random, only its SHA-256 is stored, it expires, and using it
 * is one conditional UPDATE, so two clicks at once cannot both succeed.
 */
export function createEmailTokensRepo(knex: Knex) {
  async function problemWith(tokenHash: string, purpose: TokenPurpose, trx: Knex): Promise<TokenProblem> {
    const row = (await trx('email_tokens').where({ token_hash: tokenHash, purpose }).first()) as TokenRow | undefined;
    if (!row) return 'invalid';
    return row.used_at ? 'used' : 'expired';
  }

  return {
    /** Makes a token in `trx`; returns the secret to mail (never stored). */
    async issue(trx: Knex, t: { accountId: string; purpose: TokenPurpose; ttlSeconds: number; interactionUid?: string | null }): Promise<string> {
      const token = randomToken(32);
      await trx('email_tokens').insert({
        token_hash: sha256(token),
        account_id: t.accountId,
        purpose: t.purpose,
        interaction_uid: t.interactionUid ?? null,
        expires_at: trx.raw(`now() + make_interval(secs => ?)`, [t.ttlSeconds]),
      });
      return token;
    },

    /** The token if it is live, without using it (a page that shows a form first). */
    async peek(token: unknown, purpose: TokenPurpose): Promise<EmailToken | TokenProblem> {
      if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return 'invalid';
      const row = (await knex('email_tokens')
        .where({ token_hash: sha256(token), purpose })
        .whereNull('used_at')
        .where('expires_at', '>', knex.fn.now())
        .first()) as TokenRow | undefined;
      return row ? toToken(row) : problemWith(sha256(token), purpose, knex);
    },

    /** Uses the token: of any number of concurrent calls, at most one gets it. */
    async consume(token: unknown, purpose: TokenPurpose, trx: Knex = knex): Promise<EmailToken | TokenProblem> {
      if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return 'invalid';
      const rows = (await trx('email_tokens')
        .where({ token_hash: sha256(token), purpose })
        .whereNull('used_at')
        .where('expires_at', '>', trx.fn.now())
        .update({ used_at: trx.fn.now() })
        .returning('*')) as TokenRow[];
      return rows[0] ? toToken(rows[0]) : problemWith(sha256(token), purpose, trx);
    },

    /** The account a token was issued to, live, used or expired (a used confirmation link of a confirmed address). */
    async ownerOf(token: unknown, purpose: TokenPurpose, trx: Knex = knex): Promise<string | undefined> {
      if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return undefined;
      const row = (await trx('email_tokens').where({ token_hash: sha256(token), purpose }).first('account_id')) as Pick<TokenRow, 'account_id'> | undefined;
      return row?.account_id;
    },

    /** Spends every other live token of this purpose: after a reset, older reset links are dead. */
    async spendAll(trx: Knex, accountId: string, purpose: TokenPurpose): Promise<void> {
      await trx('email_tokens').where({ account_id: accountId, purpose }).whereNull('used_at').update({ used_at: trx.fn.now() });
    },
  };
}

export type EmailTokensRepo = ReturnType<typeof createEmailTokensRepo>;
