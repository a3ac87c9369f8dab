import type { Knex } from 'knex';
import type { SecretBox } from '../crypto/secret-box.ts';
import { isStorableId } from './adapters/types.ts';
import { createClientCache, publishOnly, type ClientInvalidation } from './client-cache.ts';

/** Where a row stands in creation order (`createdAt` an ISO instant with microseconds). */
export interface ClientPosition {
  createdAt: string;
  clientId: string;
}

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
/**
 * How long a cached client is served at most. With a listener this is only the safety net
 * (a lost message); the embedded database has no listener and relies on the short one.
 */
const SAFETY_TTL_MS = 30_000;
const EMBEDDED_TTL_MS = 1_000;
const CACHE_MAX = 10_000;

/**
 * `invalidation` undefined: nothing can tell this instance about changes (the embedded database
 * without Redis, src/oidc/client-cache.ts), so a cached client lives EMBEDDED_TTL_MS only.
 */
/**
 * A copy of cached metadata for one request. Metadata is strings, booleans and arrays of
 * strings but for the odd object (a `jwks`): those are cloned in depth; the rest is copied by
 * hand, several times cheaper than structuredClone on the token path (issue 9).
 */
function copyMetadata(metadata: ClientMetadata): ClientMetadata {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    copy[key] = Array.isArray(value) ? value.slice() : value !== null && typeof value === 'object' ? structuredClone(value) : value;
  }
  return copy as ClientMetadata;
}

export function createClientsRepo(knex: Knex, box: SecretBox, { invalidation }: { invalidation?: ClientInvalidation } = {}) {
  // Every write tells the other instances; only a server that called startCache() caches.
  const changes = invalidation ?? publishOnly(async () => {});
  const cache = createClientCache<ClientMetadata>({ ttlMs: invalidation ? SAFETY_TTL_MS : EMBEDDED_TTL_MS, max: CACHE_MAX });
  let started = false;

  async function changed(clientId: string) {
    cache.invalidate(clientId);
    // The row is written: a lost message is covered by the TTL, so the write is not failed.
    await changes.publish(clientId).catch(() => {});
  }

  function toMetadata(row: ClientRow): ClientMetadata {
    const metadata: ClientMetadata = { ...row.metadata, client_id: row.client_id, first_party: row.first_party };
    if (row.secret_enc) metadata.client_secret = box.open(row.secret_enc);
    return metadata;
  }

  return {
    async find(clientId: string): Promise<ClientMetadata | undefined> {
      if (!isStorableId(clientId)) return undefined;
      const hit = cache.get(clientId);
      // A copy: the provider and its callers must not change what the next request sees.
      if (hit) return copyMetadata(hit);
      const generation = cache.generation();
      const row = (await knex('clients').where({ client_id: clientId }).first()) as ClientRow | undefined;
      if (!row) return undefined;
      const metadata = toMetadata(row);
      cache.set(clientId, structuredClone(metadata), generation);
      return metadata;
    },

    /** The client's secret, undefined for an unknown or public client (the rate-limit key's check: no copy made). */
    async secret(clientId: string): Promise<string | undefined> {
      if (!isStorableId(clientId)) return undefined;
      return (cache.get(clientId) ?? (await this.find(clientId)))?.client_secret;
    },

    /**
     * Serve clients from memory from now on (the web server; issue 9: the read and the secret's
     * decryption were a third of a token request's CPU). Each change, through any instance,
     * reaches this one's cache within the listener's delivery time (milliseconds).
     */
    startCache() {
      if (started) return;
      started = true;
      if (!invalidation) cache.setListening(true);
      else changes.listen((id) => cache.invalidate(id), (up) => cache.setListening(up));
    },

    async close() {
      await changes.close();
    },

    async list(): Promise<ClientMetadata[]> {
      const rows = (await knex('clients').orderBy('created_at')) as ClientRow[];
      return rows.map(toMetadata);
    },

    /**
     * One page of clients in creation order (then id): `after` is the position of the last
     * row of the previous page, so rows inserted meanwhile (created later) come on later pages
     * and none is skipped or repeated. The position keeps Postgres' microseconds (a JS Date
     * would round them off).
     */
    async page({ limit, after }: { limit: number; after?: ClientPosition }): Promise<{ client: ClientMetadata; position: ClientPosition }[]> {
      const query = knex('clients')
        .select('*', knex.raw(`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position`))
        .orderBy([{ column: 'created_at' }, { column: 'client_id' }])
        .limit(limit);
      if (after) query.whereRaw('(created_at, client_id) > (?::timestamptz, ?)', [after.createdAt, after.clientId]);
      const rows = (await query) as (ClientRow & { position: string })[];
      return rows.map((row) => ({ client: toMetadata(row), position: { createdAt: row.position, clientId: row.client_id } }));
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
      await changed(clientId);
    },

    async delete(clientId: string): Promise<boolean> {
      const deleted = (await knex('clients').where({ client_id: clientId }).delete()) > 0;
      await changed(clientId);
      return deleted;
    },
  };
}

export type ClientsRepo = ReturnType<typeof createClientsRepo>;
