import type { Knex } from 'knex';
import { errors } from 'oidc-provider';
import { GRANT_SOURCES, isStorableId, type Adapter, type AdapterFactory, type AdapterPayload } from './types.ts';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

/**
 * oidc-provider storage in Postgres (the `oidc_payloads` table, one jsonb payload per model
 * instance), used when REDIS_URL is unset. Expired rows are invisible to `find` and removed
 * by `deleteExpiredPayloads`.
 */
export function postgresAdapterFactory(knex: Knex): AdapterFactory {
  const live = (q: Knex.QueryBuilder) => q.where((w) => w.whereNull('expires_at').orWhere('expires_at', '>', knex.fn.now()));

  function toPayload(row: PayloadRow | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
  }

  return (model: string): Adapter => {
    const findWhere = async (where: Record<string, string>) =>
      !Object.values(where).every(isStorableId)
        ? undefined
        : toPayload((await live(knex('oidc_payloads').where({ model, ...where })).first('payload', 'consumed_at')) as PayloadRow | undefined);

    return {
      async upsert(id, payload, expiresIn) {
        await knex('oidc_payloads')
          .insert({
            model,
            id,
            payload: JSON.stringify(payload),
            grant_id: payload.grantId ?? null,
            user_code: payload.userCode ?? null,
            uid: payload.uid ?? null,
            expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
            consumed_at: payload.consumed ? new Date(payload.consumed * 1000) : null,
          })
          .onConflict(['model', 'id'])
          .merge();
      },
      find: (id) => findWhere({ id }),
      findByUid: (uid) => findWhere({ uid }),
      findByUserCode: (userCode) => findWhere({ user_code: userCode }),
      async consume(id) {
        // The WHERE makes check-and-set one statement: of two parallel calls, one updates a row.
        const updated = (await knex('oidc_payloads')
          .where({ model, id })
          .whereNull('consumed_at')
          .update({ consumed_at: knex.fn.now() })
          .returning('id')) as unknown[];
        if (updated.length === 0 && GRANT_SOURCES.has(model)) {
          throw new errors.InvalidGrant(`${model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already consumed`);
        }
      },
      async destroy(id) {
        await knex('oidc_payloads').where({ model, id }).delete();
      },
      async revokeByGrantId(grantId) {
        await knex('oidc_payloads').where({ model, grant_id: grantId }).delete();
      },
    };
  };
}

/** Removes expired oidc-provider payloads; returns how many. */
export async function deleteExpiredPayloads(knex: Knex): Promise<number> {
  return knex('oidc_payloads').where('expires_at', '<', knex.fn.now()).delete();
}
