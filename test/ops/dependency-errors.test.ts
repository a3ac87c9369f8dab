import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DatabaseError } from 'pg';
import { isDependencyDown } from '../../src/errors.ts';

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

  test('errors in what we asked for are not an outage', () => {
    assert.equal(isDependencyDown(pgError('23505', 'duplicate key value violates unique constraint')), false);
    assert.equal(isDependencyDown(pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00')), false);
    assert.equal(isDependencyDown(pgError('42P01', 'relation "x" does not exist')), false);
  });
});
