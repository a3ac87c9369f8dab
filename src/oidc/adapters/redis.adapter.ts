import type { RedisClient } from '../../redis.ts';
import { errors } from 'oidc-provider';
import { GRANT_SOURCES, isStorableId, type Adapter, type AdapterFactory, type AdapterPayload } from './types.ts';

// HSETNX alone would create a hash for an id that does not exist (or has expired).
const CONSUME = `if redis.call('exists', KEYS[1]) == 0 then return -1 end
return redis.call('hsetnx', KEYS[1], 'consumed', ARGV[1])`;

/**
 * oidc-provider storage in Redis. Each model instance is a hash (`payload` JSON, `consumed`
 * epoch) with the model's TTL; grant, uid and user-code indexes are separate keys. The
 * client is injected and created with `enableOfflineQueue: false`, so a command fails at once
 * while Redis is down instead of queueing forever.
 */
export function redisAdapterFactory(redis: RedisClient, prefix: string): AdapterFactory {
  // One index per model and grant: oidc-provider revokes a grant model by model.
  const grantKey = (model: string, grantId: string) => `${prefix}grant:${model}:${grantId}`;
  const uidKey = (uid: string) => `${prefix}uid:${uid}`;
  const userCodeKey = (code: string) => `${prefix}user_code:${code}`;

  async function revokeByGrantId(model: string, grantId: string) {
    const index = grantKey(model, grantId);
    const keys = await redis.smembers(index);
    // One DEL per key (in a Redis Cluster they live in different slots: a multi-key DEL would be
    // refused as CROSSSLOT), the index last, so a failure leaves it to try again.
    await Promise.all(keys.map((k) => redis.del(k)));
    await redis.del(index);
  }

  return (name: string): Adapter => {
    const key = (id: string) => `${prefix}${name}:${id}`;

    async function find(id: string): Promise<AdapterPayload | undefined> {
      if (!isStorableId(id)) return undefined;
      const hash = await redis.hgetall(key(id));
      if (!hash.payload) return undefined;
      const payload = JSON.parse(hash.payload) as AdapterPayload;
      if (hash.consumed) payload.consumed = Number(hash.consumed);
      return payload;
    }

    async function findBy(indexKey: string) {
      if (!isStorableId(indexKey.slice(indexKey.lastIndexOf(':') + 1))) return undefined;
      const id = await redis.get(indexKey);
      return id ? find(id) : undefined;
    }

    return {
      async upsert(id, payload, expiresIn) {
        const k = key(id);
        // A MULTI holds keys of one hash slot only (Redis Cluster), and the model's key and its
        // indexes hash apart: the indexes are written first, then the model in one MULTI. An index
        // whose model was never written finds nothing; a model missing from its grant index would
        // escape revocation, which this order rules out.
        const indexes: Promise<unknown>[] = [];
        if (payload.uid) indexes.push(redis.set(uidKey(payload.uid), id, 'EX', expiresIn ?? 3600));
        if (payload.userCode) indexes.push(redis.set(userCodeKey(payload.userCode), id, 'EX', expiresIn ?? 3600));
        if (payload.grantId) {
          const index = grantKey(name, payload.grantId);
          const grant = redis.multi().sadd(index, k);
          // The index lives as long as the longest-lived member; NX sets it on a new set, GT extends it.
          if (expiresIn) grant.expire(index, expiresIn, 'NX').expire(index, expiresIn, 'GT');
          indexes.push(grant.exec().then(throwFirstError));
        }
        await Promise.all(indexes);
        const tx = redis.multi().del(k).hset(k, 'payload', JSON.stringify(payload));
        if (payload.consumed) tx.hset(k, 'consumed', String(payload.consumed));
        if (expiresIn) tx.expire(k, expiresIn);
        await tx.exec().then(throwFirstError);
      },
      find,
      findByUid: (uid) => findBy(uidKey(uid)),
      findByUserCode: (userCode) => findBy(userCodeKey(userCode)),
      async consume(id) {
        const won = (await redis.eval(CONSUME, 1, key(id), String(Math.floor(Date.now() / 1000)))) as number;
        if (won === 0 && GRANT_SOURCES.has(name)) {
          throw new errors.InvalidGrant(`${name === 'RefreshToken' ? 'refresh token' : 'authorization code'} already consumed`);
        }
      },
      async destroy(id) {
        await redis.del(key(id));
      },
      revokeByGrantId: (grantId) => revokeByGrantId(name, grantId),
    };
  };
}

function throwFirstError(results: [Error | null, unknown][] | null) {
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}
