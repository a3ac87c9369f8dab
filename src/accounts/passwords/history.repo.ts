import type { Knex } from 'knex';

/** Hashes of the passwords an account had before its current one, newest first. */
export function createPasswordHistoryRepo(knex: Knex) {
  return {
    async recent(accountId: string, count: number): Promise<string[]> {
      if (count <= 0) return [];
      const rows = (await knex('password_history').where({ account_id: accountId }).orderBy('id', 'desc').limit(count).select('password_hash')) as {
        password_hash: string;
      }[];
      return rows.map((r) => r.password_hash);
    },

    /** Remembers a replaced password and forgets those older than the `keep` newest. */
    async add(trx: Knex, accountId: string, passwordHash: string, keep: number): Promise<void> {
      await trx('password_history').insert({ account_id: accountId, password_hash: passwordHash });
      await trx('password_history')
        .where({ account_id: accountId })
        .whereNotIn('id', trx('password_history').where({ account_id: accountId }).orderBy('id', 'desc').limit(keep).select('id'))
        .delete();
    },

  };
}

export type PasswordHistoryRepo = ReturnType<typeof createPasswordHistoryRepo>;
