import type { Knex } from 'knex';

/**
 * What the first-party code reads from the clients table. The `first_party` column, not the
 * metadata, decides: only an admin sets it (CONTRACT.md, `client create --first-party`).
 */
export function createFirstPartyRepo(knex: Knex) {
  return {
    async isFirstParty(clientId: string): Promise<boolean> {
      return Boolean(await knex('clients').where({ client_id: clientId, first_party: true }).first('client_id'));
    },

    /** Every redirect URI of every first-party client: where their pages live. */
    async redirectUris(): Promise<string[]> {
      const rows = (await knex('clients').where({ first_party: true }).select(knex.raw(`metadata->'redirect_uris' as uris`))) as {
        uris: unknown;
      }[];
      return rows.flatMap((r) => (Array.isArray(r.uris) ? r.uris.filter((u): u is string => typeof u === 'string') : []));
    },
  };
}

export type FirstPartyRepo = ReturnType<typeof createFirstPartyRepo>;
