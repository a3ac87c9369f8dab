import type { Knex } from 'knex';

/** An account's TOTP authenticator as stored: the secret still sealed. */
export interface TotpRecord {
  accountId: string;
  secretSealed: string;
  /** The last RFC 6238 time step a code was accepted for: no code of this step or before is good again. */
  lastStep: number | null;
  /** Unset while the enrolment waits for its first code. */
  confirmedAt: Date | null;
}

interface TotpRow {
  account_id: string;
  secret_sealed: string;
  last_step: string | number | null;
  confirmed_at: Date | null;
}

const toTotp = (row: TotpRow): TotpRecord => ({
  accountId: row.account_id,
  secretSealed: row.secret_sealed,
  lastStep: row.last_step === null ? null : Number(row.last_step),
  confirmedAt: row.confirmed_at,
});

/** SQL of second factors (migrations/20261202000200_second_factors.ts). */
export function createFactorsRepo(knex: Knex) {
  return {
    async findTotp(accountId: string, trx: Knex = knex): Promise<TotpRecord | undefined> {
      const row = (await trx('account_totp').where({ account_id: accountId }).first()) as TotpRow | undefined;
      return row ? toTotp(row) : undefined;
    },

    /** A new enrolment waiting for its first code; replaces one not yet confirmed, never a confirmed one. */
    async startTotp(accountId: string, secretSealed: string): Promise<boolean> {
      const rows = (await knex.raw(
        `insert into account_totp (account_id, secret_sealed) values (?, ?)
         on conflict (account_id) do update set secret_sealed = excluded.secret_sealed, last_step = null, created_at = now()
         where account_totp.confirmed_at is null
         returning account_id`,
        [accountId, secretSealed],
      )) as { rows: unknown[] };
      return rows.rows.length > 0;
    },

    /**
     * Takes time step `step` for the account's authenticator: true only for the first taker of a
     * step later than every step taken before (RFC 6238 §5.2: a code is accepted once). `confirm`
     * also marks a pending enrolment confirmed.
     */
    async takeStep(accountId: string, step: number, { confirm }: { confirm: boolean }, trx: Knex = knex): Promise<boolean> {
      const query = trx('account_totp')
        .where({ account_id: accountId })
        .andWhere((q) => q.whereNull('last_step').orWhere('last_step', '<', step));
      if (confirm) query.whereNull('confirmed_at');
      else query.whereNotNull('confirmed_at');
      const updated = await query.update({ last_step: step, ...(confirm ? { confirmed_at: trx.fn.now() } : {}) });
      return updated > 0;
    },

    async deleteTotp(accountId: string, trx: Knex = knex): Promise<number> {
      return trx('account_totp').where({ account_id: accountId }).delete();
    },

    /** Replaces every recovery code of the account with these digests. */
    async replaceRecoveryCodes(accountId: string, hashes: string[], trx: Knex = knex): Promise<void> {
      await trx('account_recovery_codes').where({ account_id: accountId }).delete();
      if (hashes.length) await trx('account_recovery_codes').insert(hashes.map((code_hash) => ({ account_id: accountId, code_hash })));
    },

    /** Spends an unused recovery code: true for the one caller that spent it. */
    async useRecoveryCode(accountId: string, hash: string): Promise<boolean> {
      const updated = await knex('account_recovery_codes').where({ account_id: accountId, code_hash: hash }).whereNull('used_at').update({ used_at: knex.fn.now() });
      return updated > 0;
    },

    async unusedRecoveryCodes(accountId: string): Promise<number> {
      const row = (await knex('account_recovery_codes').where({ account_id: accountId }).whereNull('used_at').count({ n: '*' }).first()) as { n: string | number } | undefined;
      return Number(row?.n ?? 0);
    },

    /** The account's passkeys (migrations/20261202000300_passkeys.ts): an admin's removal takes them too. */
    async deletePasskeys(accountId: string, trx: Knex = knex): Promise<number> {
      return trx('webauthn_credentials').where({ account_id: accountId }).delete();
    },

    async deleteRecoveryCodes(accountId: string, trx: Knex = knex): Promise<number> {
      return trx('account_recovery_codes').where({ account_id: accountId }).delete();
    },
  };
}

export type FactorsRepo = ReturnType<typeof createFactorsRepo>;
