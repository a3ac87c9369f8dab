import type { Knex } from 'knex';

/**
 * Which apps (OIDC clients) an account consented to, and through which grants: oidc-provider's
 * storage cannot list grants by account (migrations/20261202000100_account_consents.ts).
 */
export function createConsentsRepo(knex: Knex) {
  return {
    /** A consent was given (or widened): the grant it was saved in. */
    async record(accountId: string, clientId: string, grantId: string): Promise<void> {
      await knex('account_consents').insert({ account_id: accountId, client_id: clientId, grant_id: grantId }).onConflict(['account_id', 'grant_id']).ignore();
    },

    /** The client ids the account consented to, oldest consent first. */
    async clients(accountId: string): Promise<string[]> {
      const rows = (await knex('account_consents').where({ account_id: accountId }).groupBy('client_id').select('client_id').min('created_at as first').orderBy('first')) as { client_id: string }[];
      return rows.map((r) => r.client_id);
    },

    /** Forgets the account's consents to one client; returns the grant ids they were saved in. */
    async remove(accountId: string, clientId: string): Promise<string[]> {
      const rows = (await knex('account_consents').where({ account_id: accountId, client_id: clientId }).delete().returning('grant_id')) as { grant_id: string }[];
      return rows.map((r) => r.grant_id);
    },
  };
}

export type ConsentsRepo = ReturnType<typeof createConsentsRepo>;
