import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { defaults } from '../../config/defaults.ts';
import { createLog } from '../../src/email/log.ts';
import { HOUSEKEEPING } from '../../src/jobs/sweeps.jobs.ts';
import { AGENDA_TABLE } from '../../src/jobs/queue.ts';
import { startWorker } from '../../src/worker.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(Date.now() - ms);

/** Enqueues one run of the housekeeping job in the server's inline worker and resolves when that run completed. */
async function housekeeping(server: TestServer): Promise<void> {
  const { agenda } = server.email.jobs;
  let id: string | undefined;
  const seen = new Set<string>();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const onComplete = (job: { attrs: { _id?: unknown } }) => {
    seen.add(String(job.attrs._id));
    if (id && seen.has(id)) finish();
  };
  agenda.on(`complete:${HOUSEKEEPING}`, onComplete);
  try {
    id = String((await agenda.now(HOUSEKEEPING)).attrs._id);
    if (seen.has(id)) finish();
    await done;
  } finally {
    agenda.off(`complete:${HOUSEKEEPING}`, onComplete);
  }
}

describe(`the housekeeping job (${STORAGE})`, () => {
  // A short lock lifetime: Agenda's lock check after a run is a timer of half of it.
  const ctx = useServer({ overrides: { jobs: { ...defaults.jobs, processEveryMs: 100, lockLifetimeMs: 1000 } } });

  test('it deletes expired oidc-provider payloads and keeps live ones', async () => {
    const { knex } = ctx.server.services;
    const row = (id: string, expiresAt: Date | null) => ({ model: 'Session', id, payload: JSON.stringify({ id }), expires_at: expiresAt });
    const tag = randomBytes(4).toString('hex');
    await knex('oidc_payloads').insert([row(`expired-${tag}`, ago(HOUR)), row(`live-${tag}`, ago(-HOUR)), row(`forever-${tag}`, null)]);
    await housekeeping(ctx.server);
    const left = (await knex('oidc_payloads').where('id', 'like', `%-${tag}`).pluck('id')).sort();
    assert.deepEqual(left, [`forever-${tag}`, `live-${tag}`]);
  });

  test('it deletes security events past the retention and keeps the others', async () => {
    const { knex } = ctx.server.services;
    const days = ctx.server.config.securityEvents.retentionDays;
    const type = `test.${randomBytes(4).toString('hex')}`;
    await knex('security_events').insert([
      { type, details: JSON.stringify({ which: 'old' }), created_at: ago((days + 1) * DAY) },
      { type, details: JSON.stringify({ which: 'recent' }), created_at: ago((days - 1) * DAY) },
    ]);
    await housekeeping(ctx.server);
    const left = await knex('security_events').where({ type }).select('details');
    assert.deepEqual(left.map((r: { details: { which: string } }) => r.details.which), ['recent']);
  });

  test('it deletes first-party sessions that ended a day ago and keeps the rest', async () => {
    const { knex } = ctx.server.services;
    const user = await createUser(ctx.server);
    const client = await createClient(ctx.server, { firstParty: true });
    const family = (ended: Date) => ({ account_id: user.id, client_id: client.client_id, scope: 'openid', absolute_expires_at: ended });
    await knex('first_party_families').insert([family(ago(2 * DAY)), family(ago(HOUR)), family(ago(-DAY))]);
    await housekeeping(ctx.server);
    const left = await knex('first_party_families').where({ account_id: user.id }).orderBy('absolute_expires_at').pluck('absolute_expires_at');
    assert.equal(left.length, 2, 'the one that ended two days ago is gone');
    assert.ok(left.every((at: Date) => at.getTime() > Date.now() - DAY));
  });

  test('one schedule per deployment, however many workers start', async () => {
    const { config, runtime } = ctx.server;
    const worker = await startWorker({ config, database: runtime.database, log: createLog('silent', 'test-worker') });
    try {
      // (The runs the tests above asked for are rows of their own, not schedules.)
      const schedules = await runtime.database.knex(AGENDA_TABLE).where({ name: HOUSEKEEPING }).whereNotNull('repeat_interval').select('type');
      assert.deepEqual(schedules, [{ type: 'single' }]);
    } finally {
      await worker.close();
    }
  });
});
