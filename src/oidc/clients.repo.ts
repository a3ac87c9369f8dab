import type { Knex } from 'knex';
import type { SecretBox } from '../crypto/secret-box.ts';
import { isStorableId } from './adapters/types.ts';

/** OIDC client metadata as oidc-provider reads it (RFC 7591 names). */
export type ClientMetadata = Record<string, unknown> & { client_id: string; client_secret?: string };

interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_enc: string | null;
  first_party: boolean;
  created_at: Date;
}

/**
 * The clients table. The secret is kept sealed apart from the rest of the metadata, and
 * `first_party` lives in its own column so that nothing a client sends through dynamic
 * registration can make it first-party.
 */
export function createClientsRepo(knex: Knex, box: SecretBox) {
  function toMetadata(row: ClientRow): ClientMetadata {
    const metadata: ClientMetadata = { ...row.metadata, client_id: row.client_id, first_party: row.first_party };
    if (row.secret_enc) metadata.client_secret = box.open(row.secret_enc);
    return metadata;
  }

  return {
    async find(clientId: string): Promise<ClientMetadata | undefined> {
      if (!isStorableId(clientId)) return undefined;
      const row = (await knex('clients').where({ client_id: clientId }).first()) as ClientRow | undefined;
      return row ? toMetadata(row) : undefined;
    },

    async list(): Promise<ClientMetadata[]> {
      const rows = (await knex('clients').orderBy('created_at')) as ClientRow[];
      return rows.map(toMetadata);
    },

    /** Insert or replace; `firstParty` undefined keeps what the row had (false for new rows). */
    async upsert(metadata: ClientMetadata, firstParty?: boolean): Promise<void> {
      const { client_secret: secret, client_id: clientId, first_party: _ignored, ...rest } = metadata;
      const row: Record<string, unknown> = {
        client_id: clientId,
        metadata: JSON.stringify(rest),
        secret_enc: secret ? box.seal(secret) : null,
        updated_at: knex.fn.now(),
      };
      if (firstParty !== undefined) row.first_party = firstParty;
      await knex('clients').insert(row).onConflict('client_id').merge();
    },

    async delete(clientId: string): Promise<boolean> {
      return (await knex('clients').where({ client_id: clientId }).delete()) > 0;
    },
  };
}

export type ClientsRepo = ReturnType<typeof createClientsRepo>;
