import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import type { Log } from '../email/outbox.service.ts';
import { deleteEndedSessions } from '../first-party/sessions.service.ts';
import { createRefreshTokensRepo } from '../first-party/refresh-tokens.repo.ts';
import { deleteExpiredPayloads } from '../oidc/adapters/postgres.adapter.ts';
import type { SecurityEvents } from '../security/events.ts';
import type { JobQueue } from './queue.ts';

/** Deletes expired oidc-provider payloads from Postgres (empty when Redis holds them). */
export const SWEEP_EXPIRED_PAYLOADS = 'sweep-expired-oidc-payloads';
/** Deletes security events past `securityEvents.retentionDays`. */
export const PURGE_SECURITY_EVENTS = 'purge-security-events';
/** Deletes first-party sessions that ended a day ago or more. */
export const SWEEP_ENDED_SESSIONS = 'sweep-ended-first-party-sessions';

const MINUTE = 60 * 1000;

/**
 * Housekeeping, once per deployment (not in every web process): each is one DELETE of what is
 * past its time, so a run repeated or run late does no harm. Each runs every interval from the
 * first worker's start (the web processes used to run them on timers of their own).
 */
export function defineSweeps(queue: JobQueue, { knex, events, config, log }: { knex: Knex; events: SecurityEvents; config: Pick<Config, 'securityEvents'>; log: Log }) {
  const sweep = (name: string, intervalMs: number, run: () => Promise<number>) => {
    queue.define(
      name,
      async () => {
        try {
          await run();
        } catch (err) {
          log.warn({ job: name, err: (err as Error).message }, 'sweep failed; the next run tries again');
          throw err;
        }
      },
      { concurrency: 1 },
    );
    queue.every(intervalMs, name);
  };
  sweep(SWEEP_EXPIRED_PAYLOADS, 10 * MINUTE, () => deleteExpiredPayloads(knex));
  sweep(PURGE_SECURITY_EVENTS, 60 * MINUTE, () => events.purgeOlderThan(config.securityEvents.retentionDays));
  sweep(SWEEP_ENDED_SESSIONS, 60 * MINUTE, () => deleteEndedSessions(createRefreshTokensRepo(knex)));
}
