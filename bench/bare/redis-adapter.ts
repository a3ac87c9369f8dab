import type { Redis } from 'ioredis';

/**
 * The smallest Redis adapter oidc-provider needs (its docs/README "adapter" contract), for the
 * bare baseline: one JSON string per model instance with the model's TTL, a set per grant for
 * `revokeByGrantId`, and an index for session uids. Consumption is a field of a hash so that it
 * is one atomic command. Every key starts with `prefix`.
 */
type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function bareRedisAdapter(redis: Redis, prefix: string) {
  return class BareRedisAdapter {
    readonly name: string;
    constructor(name: string) {
      this.name = name;
    }

    key(id: string) {
      return `${prefix}${this.name}:${id}`;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number) {
      const key = this.key(id);
      const tx = redis.multi();
      if (CONSUMABLE.has(this.name)) tx.hset(key, 'payload', JSON.stringify(payload));
      else tx.set(key, JSON.stringify(payload));
      if (expiresIn) tx.expire(key, expiresIn);
      if (payload.grantId) {
        const grantKey = `${prefix}grant:${payload.grantId}`;
        tx.rpush(grantKey, key);
        if (expiresIn) tx.expire(grantKey, expiresIn, 'GT').expire(grantKey, expiresIn, 'NX');
      }
      if (payload.uid) tx.set(`${prefix}uid:${payload.uid}`, id, 'EX', expiresIn ?? 3600);
      if (payload.userCode) tx.set(`${prefix}user_code:${payload.userCode}`, id, 'EX', expiresIn ?? 3600);
      await tx.exec();
    }

    async find(id: string): Promise<Payload | undefined> {
      if (CONSUMABLE.has(this.name)) {
        const hash = await redis.hgetall(this.key(id));
        if (!hash.payload) return undefined;
        const payload = JSON.parse(hash.payload) as Payload;
        return hash.consumed ? { ...payload, consumed: Number(hash.consumed) } : payload;
      }
      const json = await redis.get(this.key(id));
      return json ? (JSON.parse(json) as Payload) : undefined;
    }

    async findByUid(uid: string) {
      const id = await redis.get(`${prefix}uid:${uid}`);
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string) {
      const id = await redis.get(`${prefix}user_code:${userCode}`);
      return id ? this.find(id) : undefined;
    }

    async consume(id: string) {
      await redis.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id: string) {
      await redis.del(this.key(id));
    }

    async revokeByGrantId(grantId: string) {
      const grantKey = `${prefix}grant:${grantId}`;
      const keys = await redis.lrange(grantKey, 0, -1);
      await redis.del(...keys, grantKey);
    }
  };
}
