import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { Log, Outbox } from '../email/outbox.service.ts';
import type { SecurityEvents } from '../security/events.ts';
import { defineEmailJobs, enqueueEmail } from './email.jobs.ts';
import { openJobQueue, type JobQueue } from './queue.ts';
import { defineHousekeeping } from './sweeps.jobs.ts';

export interface Jobs extends JobQueue {
  /** Enqueue sending one outbox message (after the transaction that recorded it committed). */
  enqueueEmail(messageId: string): Promise<void>;
}

/**
 * Every job Gatehouse runs, on one queue: sending e-mail (src/jobs/email.jobs.ts) and
 * housekeeping (src/jobs/sweeps.jobs.ts). Every process that enqueues opens it; the
 * worker (inline in the web process, or `npm run worker`) also calls `work()`.
 */
export async function openJobs({
  config,
  database,
  log,
  outbox,
  events,
}: {
  config: Config;
  database: Database;
  log: Log;
  outbox: Outbox;
  events: SecurityEvents;
}): Promise<Jobs> {
  const queue = await openJobQueue({ config, database, log });
  defineEmailJobs(queue, { outbox, config });
  defineHousekeeping(queue, { knex: database.knex, events, config, log });
  return { ...queue, enqueueEmail: (messageId) => enqueueEmail(queue, messageId) };
}
