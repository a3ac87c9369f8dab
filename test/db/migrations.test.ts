import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { migrate, openDatabase } from '../../src/db/database.ts';
import { createStorage, TEST_DATABASE_URL } from '../helpers/server.ts';

// Several instances starting at once on one fresh database (compose --scale, a rolling
// upgrade) all come up: one applies the migrations, the others wait and apply nothing.
describe('migrations on start', { skip: !TEST_DATABASE_URL && 'needs DATABASE_URL (Postgres)' }, () => {
  test('three instances migrating one fresh database at once all succeed, each migration applied once', async () => {
    const storage = await createStorage({ redis: false, embedded: false });
    const config = loadConfig(storage.env);
    const instances = await Promise.all([1, 2, 3].map(() => openDatabase(config)));
    try {
      const results = await Promise.allSettled(instances.map((db) => migrate(db.knex)));
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled'], String(results.find((r) => r.status === 'rejected')?.reason));
      const applied = results.map((r) => (r as PromiseFulfilledResult<string[]>).value);
      const all = applied.flat();
      assert.ok(all.length > 0);
      assert.equal(new Set(all).size, all.length, 'no migration applied twice');
      const rows = (await instances[0]!.knex('knex_migrations').count({ n: '*' }).first()) as { n: number };
      assert.equal(rows.n, all.length);
    } finally {
      await Promise.all(instances.map((db) => db.close()));
      await storage.drop();
    }
  });
});
