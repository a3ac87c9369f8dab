import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { errors } from 'oidc-provider';
import { loadConfig } from '../../src/config.ts';
import { migrate, openDatabase, type Database } from '../../src/db/database.ts';
import { postgresAdapterFactory, deleteExpiredPayloads } from '../../src/oidc/adapters/postgres.adapter.ts';
import { redisAdapterFactory } from '../../src/oidc/adapters/redis.adapter.ts';
import type { AdapterFactory } from '../../src/oidc/adapters/types.ts';
import { openRedis } from '../../src/redis.ts';
import { startRedisCluster } from '../helpers/redis-cluster.ts';
import { createStorage, freePort, TEST_REDIS_URL, type TestStorage } from '../helpers/server.ts';

// One contract, every store: what oidc-provider relies on from an adapter.
const id = () => randomBytes(12).toString('base64url');

interface Store {
  name: string;
  factory: AdapterFactory;
}

const stores: { name: string; open(): Promise<{ factory: AdapterFactory; close(): Promise<void> }> }[] = [
  {
    name: 'postgres',
    async open() {
      const storage: TestStorage = await createStorage({ redis: false });
      const database: Database = await openDatabase(loadConfig(storage.env));
      await migrate(database.knex);
      return {
        factory: postgresAdapterFactory(database.knex),
        async close() {
          // Sweeping expired rows is part of the Postgres store's contract too.
          await deleteExpiredPayloads(database.knex);
          await database.close();
          await storage.drop();
        },
      };
    },
  },
];
if (TEST_REDIS_URL) {
  stores.push({
    name: 'redis',
    async open() {
      const redis = await openRedis({ url: TEST_REDIS_URL! });
      const prefix = `gatehouse:test:${id()}:`;
      return {
        factory: redisAdapterFactory(redis, prefix),
        async close() {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length) await redis.del(...keys);
          redis.disconnect();
        },
      };
    },
  });
}

if (TEST_REDIS_URL) {
  // The same contract on a Redis Cluster of three masters (REDIS_CLUSTER_NODES): every multi-key
  // operation must keep to one hash slot or be split, or the cluster refuses it (CROSSSLOT).
  stores.push({
    name: 'redis cluster',
    async open() {
      const cluster = await startRedisCluster();
      const redis = await openRedis({ clusterNodes: cluster.nodesEnv.split(',') });
      return {
        factory: redisAdapterFactory(redis, 'gatehouse:'),
        async close() {
          redis.disconnect();
          await cluster.stop();
        },
      };
    },
  });
}

for (const store of stores) {
  describe(`adapter contract: ${store.name}`, () => {
    let s: Store;
    let close: () => Promise<void>;
    before(async () => {
      const opened = await store.open();
      s = { name: store.name, factory: opened.factory };
      close = opened.close;
    });
    after(async () => close?.());

    test('upsert then find returns the payload; unknown and malformed ids are not found', async () => {
      const a = s.factory('Session');
      const key = id();
      await a.upsert(key, { accountId: 'acc', uid: id(), nested: { x: [1, 2] } }, 60);
      assert.deepEqual((await a.find(key))?.nested, { x: [1, 2] });
      assert.equal(await a.find(id()), undefined);
      assert.equal(await a.find('bad\u0000id'), undefined);
      await a.upsert(key, { accountId: 'changed' }, 60);
      assert.equal((await a.find(key))?.accountId, 'changed');
    });

    test('findByUid and findByUserCode', async () => {
      const a = s.factory('Interaction');
      const key = id();
      const uid = id();
      await a.upsert(key, { uid, userCode: 'ABCD-EFGH' }, 60);
      assert.equal((await a.findByUid(uid))?.uid, uid);
      assert.equal((await a.findByUserCode('ABCD-EFGH'))?.uid, uid);
      assert.equal(await a.findByUid(id()), undefined);
    });

    test('payloads expire', async () => {
      const a = s.factory('AccessToken');
      const key = id();
      await a.upsert(key, { grantId: id() }, 1);
      assert.ok(await a.find(key));
      await sleep(2100);
      assert.equal(await a.find(key), undefined);
    });

    test('consume marks once; a second consume is invalid_grant and leaves the grant to the winner', async () => {
      const codes = s.factory('AuthorizationCode');
      const tokens = s.factory('AccessToken');
      const grantId = id();
      const code = id();
      const token = id();
      await codes.upsert(code, { grantId }, 60);
      await tokens.upsert(token, { grantId }, 60);
      await codes.consume(code);
      assert.equal(typeof (await codes.find(code))?.consumed, 'number', 'find shows it consumed: oidc-provider revokes a later replay itself');
      await assert.rejects(codes.consume(code), (err: Error) => err instanceof errors.InvalidGrant);
      assert.ok(await tokens.find(token), 'what the winner issued stays');
    });

    test('of parallel consumes of one refresh token exactly one succeeds', async () => {
      const rts = s.factory('RefreshToken');
      const key = id();
      await rts.upsert(key, { grantId: id() }, 60);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => rts.consume(key)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    });

    test('destroy and revokeByGrantId remove exactly what they name, model by model', async () => {
      const refresh = s.factory('RefreshToken');
      const access = s.factory('AccessToken');
      const interactions = s.factory('Interaction');
      const grant = id();
      const other = id();
      const [k1, k2, k3, k4, k5] = [id(), id(), id(), id(), id()];
      await refresh.upsert(k1, { grantId: grant }, 60);
      await access.upsert(k2, { grantId: grant }, 60);
      await access.upsert(k3, { grantId: other }, 60);
      await access.upsert(k4, { grantId: other }, 60);
      await interactions.upsert(k5, { grantId: grant }, 60);
      await refresh.revokeByGrantId(grant);
      assert.equal(await refresh.find(k1), undefined);
      assert.ok(await access.find(k2), "another model's entries stay: oidc-provider revokes model by model");
      await access.revokeByGrantId(grant);
      assert.equal(await access.find(k2), undefined);
      assert.ok(await access.find(k3), 'other grants stay');
      assert.ok(await interactions.find(k5), 'the interaction of a grant survives its tokens');
      await access.destroy(k3);
      assert.equal(await access.find(k3), undefined);
      assert.ok(await access.find(k4));
    });
  });
}

describe('redis adapter when Redis is down', () => {
  test('commands fail at once instead of queueing', async () => {
    const port = await freePort();
    await assert.rejects(openRedis({ url: `redis://127.0.0.1:${port}` }));
    const redis = new Redis({ port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => {});
    const adapter = redisAdapterFactory(redis, 'gatehouse:test:down:')('Session');
    await assert.rejects(adapter.find(id()), /Stream isn't writeable|enableOfflineQueue|Connection is closed/);
    redis.disconnect();
  });
});
