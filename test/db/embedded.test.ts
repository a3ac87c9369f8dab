import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';

// The embedded database serves several connections from one PGlite backend: concurrent
// parameterised queries and transactions on different connections must not trip over each
// other (they did with pglite-socket's own queue: "unnamed prepared statement does not exist").
// It runs in the embedded pass of the suite (CI runs both); the Postgres pass skips it.
describe('embedded database under concurrency', { skip: Boolean(process.env.DATABASE_URL) && 'runs in the embedded pass' }, () => {
  let dir: string;
  let db: Database;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-embedded-'));
    db = await openDatabase(loadConfig({ DATA_DIR: dir }));
    await db.knex.raw('create table items (id serial primary key, owner text not null, n int not null)');
  });
  after(async () => {
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('parallel parameterised queries and transactions on several connections all succeed', async () => {
    const work = Array.from({ length: 40 }, async (_, i) => {
      if (i % 3 === 0) {
        return db.knex.transaction(async (trx) => {
          await trx('items').insert({ owner: `t${i}`, n: 1 });
          await trx('items').insert({ owner: `t${i}`, n: 2 });
          const rows = await trx('items').where({ owner: `t${i}` }).select('n');
          assert.equal(rows.length, 2);
        });
      }
      await db.knex('items').insert({ owner: `q${i}`, n: i });
      const row = await db.knex('items').where({ owner: `q${i}` }).first('n');
      assert.equal(row.n, i);
    });
    await Promise.all(work);
    const rows = await db.knex('items').select('id');
    assert.equal(rows.length, 14 * 2 + 26);
  });

  test('a transaction rolled back on one connection leaves nothing, while others proceed', async () => {
    const failing = db.knex
      .transaction(async (trx) => {
        await trx('items').insert({ owner: 'rollback', n: 1 });
        throw new Error('changed my mind');
      })
      .catch((err: Error) => err.message);
    const others = Promise.all(Array.from({ length: 10 }, (_, i) => db.knex('items').insert({ owner: `other${i}`, n: i })));
    assert.equal(await failing, 'changed my mind');
    await others;
    assert.equal((await db.knex('items').where({ owner: 'rollback' })).length, 0);
    assert.equal((await db.knex('items').where('owner', 'like', 'other%')).length, 10);
  });

  test('a second client (another pool, as the worker or the CLI uses) works beside knex', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    try {
      const results = await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => pool.query('select $1::int as v', [i])),
        ...Array.from({ length: 10 }, (_, i) => db.knex.raw('select ?::int as v', [i + 100])),
      ]);
      assert.equal(results.length, 20);
    } finally {
      await pool.end();
    }
  });
});
