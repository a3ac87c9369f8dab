import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg, { DatabaseError } from 'pg';
import { isDependencyDown } from '../../src/errors.ts';
import { tcpProxy } from '../helpers/proxy.ts';
import { TEST_DATABASE_URL } from '../helpers/server.ts';

/** An error as pg gives it when the server answers the startup with an ErrorResponse. */
function pgError(code: string, message: string) {
  const err = new DatabaseError(message, message.length, 'error');
  err.code = code;
  err.severity = 'FATAL';
  return err;
}

// Issue 15, finding 3: a Postgres that is starting up or full is "not now" (503), not a bug (500).
describe('which Postgres errors mean "the database is not available"', () => {
  test('starting up (57P03) and too many connections (53300) are an outage, like shutting down', () => {
    assert.equal(isDependencyDown(pgError('57P03', 'the database system is starting up')), true);
    assert.equal(isDependencyDown(pgError('53300', 'sorry, too many clients already')), true);
    assert.equal(isDependencyDown(pgError('53300', 'too many connections for database "gatehouse"')), true);
    assert.equal(isDependencyDown(pgError('57P01', 'terminating connection due to administrator command')), true);
  });

  test('a crash of another backend (57P02) is an outage', () => {
    assert.equal(isDependencyDown(pgError('57P02', 'terminating connection because of crash of another server process')), true);
  });

  test('a transaction whose connection died under it is an outage, rolling back included', { skip: !TEST_DATABASE_URL && 'needs DATABASE_URL' }, async () => {
    // What knex's transaction rejects with when Postgres is killed mid-transaction: pg refuses
    // the ROLLBACK on the broken connection (found by test/ops/outage.test.ts as a 500).
    const url = new URL(TEST_DATABASE_URL!);
    const proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    const client = new pg.Client({ connectionString: url.toString() });
    try {
      await client.connect();
      await client.query('BEGIN');
      const lost = new Promise((resolve) => client.once('error', resolve));
      proxy.cut();
      await lost;
      const refused = await client.query('ROLLBACK').then(() => undefined, (err: Error) => err);
      assert.ok(refused, 'pg refuses a query on the broken connection');
      assert.match(refused.message, /not queryable/);
      assert.equal(isDependencyDown(refused), true, refused.message);
    } finally {
      await client.end().catch(() => {});
      await proxy.close();
    }
  });

  test('errors in what we asked for are not an outage', () => {
    assert.equal(isDependencyDown(pgError('23505', 'duplicate key value violates unique constraint')), false);
    assert.equal(isDependencyDown(pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00')), false);
    assert.equal(isDependencyDown(pgError('42P01', 'relation "x" does not exist')), false);
  });
});
