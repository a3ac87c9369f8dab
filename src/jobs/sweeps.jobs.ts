import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import type { Log } from '../email/outbox.service.ts';
import { deleteEndedSessions } from '../first-party/sessions.service.ts';
import { createRefreshTokensRepo } from '../first-party/refresh-tokens.repo.ts';
import { deleteExpiredPayloads } from '../oidc/adapters/postgres.adapter.ts';
import type { SecurityEvents } from '../security/events.ts';
import type { JobQueue } from './queue.ts';

/** Runs every sweep below, every HOUSEKEEPING_EVERY_MS, once per deployment. */
export const HOUSEKEEPING = 'housekeeping';
export const HOUSEKEEPING_EVERY_MS = 10 * 60 * 1000;

export interface SweepDeps {
  knex: Knex;
  events: Pick<SecurityEvents, 'purgeOlderThan'>;
  config: Pick<Config, 'securityEvents'>;
}

/**
 * What is past its time, each one DELETE through the service that owns the table, so a run
 * repeated or run late does no harm.
 */
export function sweeps({ knex, events, config }: SweepDeps): Record<string, () => Promise<number>> {
  return {
    /** Expired oidc-provider payloads in Postgres (none when Redis holds them). */
    'expired OIDC payloads': () => deleteExpiredPayloads(knex),
    /** Security events past `securityEvents.retentionDays`. */
    'old security events': () => events.purgeOlderThan(config.securityEvents.retentionDays),
    /** First-party sessions that ended a day ago or more. */
    'ended first-party sessions': () => deleteEndedSessions(createRefreshTokensRepo(knex)),
  };
}

/**
 * Housekeeping as one job, once per deployment, instead of timers in every web process. One
 * job, not one per sweep: a worker polls the job store for every job it defines, and these are
 * cheap enough to share one schedule. A sweep that fails does not stop the others.
 */
export function defineHousekeeping(queue: JobQueue, deps: SweepDeps & { log: Log }) {
  const all = sweeps(deps);
  queue.define(
    HOUSEKEEPING,
    async () => {
      const failed: Error[] = [];
      for (const [what, sweep] of Object.entries(all)) {
        try {
          await sweep();
        } catch (err) {
          deps.log.warn({ job: HOUSEKEEPING, sweep: what, err: (err as Error).message }, 'sweep failed; the next run tries again');
          failed.push(err as Error);
        }
      }
      if (failed.length) throw new AggregateError(failed, `${failed.length} sweep(s) failed`);
    },
    { concurrency: 1 },
  );
  queue.every(HOUSEKEEPING_EVERY_MS, HOUSEKEEPING);
}
