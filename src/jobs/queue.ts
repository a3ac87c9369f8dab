import { hostname } from 'node:os';
import { PostgresBackend } from '@agendajs/postgres-backend';
import { Agenda, type AgendaBackend, type Job } from 'agenda';
import pg from 'pg';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { Log } from '../email/outbox.service.ts';
import { isDependencyDown } from '../errors.ts';
import { BackoffNotificationChannel } from './notification-channel.ts';

/** Agenda's table when JOBS_BACKEND=postgres, created by migrations/20261124000200_email.ts. */
export const AGENDA_TABLE = 'agenda_jobs';

export interface JobOptions {
  /** At most this many of this job at once in one worker (Agenda's default otherwise). */
  concurrency?: number;
  /** Remove a one-off job's row once it completed. */
  removeOnComplete?: boolean;
}

/**
 * Agenda on the configured job store (JOBS_BACKEND), for any kind of job: what to run is
 * `define`d by the modules that own the work (src/jobs/jobs.ts lists them).
 */
export interface JobQueue {
  readonly agenda: Agenda;
  /** The handler of jobs named `name`; it gets the job's data and a way to renew its lock. */
  define<T>(name: string, handler: (data: T, job: { touch(): Promise<void> }) => Promise<unknown>, options?: JobOptions): void;
  /**
   * Runs `name` on `interval` (a cron expression, or milliseconds) once per deployment: one
   * schedule exists however many processes ask, and one worker at a time runs it. Applied
   * when this process starts working; the first run is one interval after the schedule is made.
   */
  every(interval: string | number, name: string): void;
  /** Enqueue one run of `name` now. */
  now<T>(name: string, data: T): Promise<void>;
  /** Start working: run the defined jobs in this process (WORKER=inline, or `npm run worker`). */
  work(): Promise<void>;
  /** Stop working (waiting a little for running jobs) and close the job store connection. */
  close(): Promise<void>;
  /** Resolves when the job store answers (for /readyz). */
  ping(): Promise<void>;
}

interface Store {
  backend: AgendaBackend;
  /** LISTEN/NOTIFY wakes workers at once; without it (embedded, MongoDB) they poll. */
  channel?: BackoffNotificationChannel;
  close(): Promise<void>;
  ping(): Promise<void>;
}

async function postgresStore(database: Database, onError: (err: Error) => void): Promise<Store> {
  // A pool of our own, small: the embedded database serves few connections, all multiplexed.
  const pool = new pg.Pool({ connectionString: database.url, max: database.embedded ? 1 : 4, connectionTimeoutMillis: 5000 });
  // An idle connection lost (one line per connection, before): counted with the store's errors.
  pool.on('error', onError);
  await pool.query('select 1');
  // PGlite's socket does not carry NOTIFY from one connection to another, so embedded workers
  // find their jobs by polling (processEvery) alone.
  // The channel is ours rather than the backend's: the backend's never backs off (notification-channel.ts).
  const channel = database.embedded ? undefined : new BackoffNotificationChannel(pool, AGENDA_TABLE);
  const backend = new PostgresBackend({ pool, tableName: AGENDA_TABLE, ensureSchema: false, disableNotifications: true });
  return { backend, channel, close: () => pool.end(), ping: async () => void (await pool.query('select 1')) };
}

async function mongoStore(url: string): Promise<Store> {
  // Loaded only when chosen: the Postgres default never pulls in the MongoDB driver.
  const { MongoBackend, MongoClient } = await import('@agendajs/mongo-backend');
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`jobs: cannot connect to MONGODB_URL (${(err as Error).message})`, { cause: err });
  }
  return {
    backend: new MongoBackend({ mongo: client.db() }),
    close: () => client.close(),
    ping: async () => void (await client.db().command({ ping: 1 })),
  };
}

/**
 * Agenda reports each failed poll of the job store: during an outage, several lines every
 * `processEvery`. The store being down is logged when it starts and, with a count, once no
 * error came for `quietMs` (issue 15, finding 9); any other error is logged as it comes.
 */
function jobStoreErrorLog(log: Log, quietMs: number) {
  let failed = 0;
  let timer: NodeJS.Timeout | undefined;
  return (err: Error) => {
    if (!isDependencyDown(err)) return log.error({ err: err.message }, 'job store error');
    if (failed++ === 0) log.error({ err: err.message }, 'job store unavailable; its errors are counted until it answers');
    clearTimeout(timer);
    timer = setTimeout(() => {
      log.warn({ errors: failed }, 'job store answers again (no errors for a while)');
      failed = 0;
    }, quietMs).unref();
  };
}

/**
 * The channel reconnects by itself after a lost connection; unheard, its 'error' event would end
 * the process over a database blip. Logged once when it is lost and once when it is back (not
 * per failed attempt: issue 15, finding 9); jobs are found by polling meanwhile.
 */
function logChannelState(channel: BackoffNotificationChannel, log: Log) {
  let lastError: string | undefined;
  let lostAt = 0;
  channel.on('error', (err: Error) => {
    lastError = err.message;
    // Connected still once the error's own handling is done: a notification failed, not the connection.
    if (channel.state === 'connected') setImmediate(() => channel.state === 'connected' && log.warn({ err: err.message }, 'job notification failed'));
  });
  channel.on('stateChange', (state: string) => {
    if (state === 'reconnecting') {
      lostAt = Date.now();
      log.warn({ err: lastError }, 'job notification channel lost its connection; polling until it is back');
    } else if (state === 'connected' && lostAt) {
      log.warn({ attempts: channel.attempts, seconds: Math.round((Date.now() - lostAt) / 1000) }, 'job notification channel is connected again');
      lostAt = 0;
    }
  });
}

/**
 * Agenda 6 on the configured job store. Every process that enqueues opens it; a worker also
 * `work`s. The store's connection is checked here, before Agenda connects on its own (a failure
 * there would be an unhandled rejection, not an error to report).
 */
export async function openJobQueue({ config, database, log }: { config: Config; database: Database; log: Log }): Promise<JobQueue> {
  const storeError = jobStoreErrorLog(log, 2 * config.jobs.processEveryMs + 1_000);
  const store = config.jobsBackend === 'mongodb' ? await mongoStore(config.mongodbUrl!) : await postgresStore(database, storeError);
  const { channel } = store;
  const agenda = new Agenda({
    backend: store.backend,
    notificationChannel: channel,
    name: `gatehouse@${hostname()}:${process.pid}`,
    processEvery: config.jobs.processEveryMs,
    defaultConcurrency: config.jobs.concurrency,
  });
  agenda.on('error', storeError);
  await agenda.ready;

  if (channel) logChannelState(channel, log);
  // A process that only enqueues still announces its jobs, so that workers start them at once.
  let announcing = false;
  if (channel) {
    await channel.connect();
    announcing = true;
  }

  let working = false;
  let closed = false;
  const schedules: { interval: string | number; name: string }[] = [];
  // Handlers running in this process, awaited on close. (Agenda's own drain() misses jobs that
  // remove themselves on completion and always waits out its timeout.)
  const running = new Set<Promise<unknown>>();
  const tracked = async (work: Promise<unknown>) => {
    running.add(work);
    try {
      await work;
    } finally {
      running.delete(work);
    }
  };
  return {
    agenda,
    ping: () => store.ping(),

    define(name, handler, options = {}) {
      agenda.define(
        name,
        async (job: Job) => {
          await tracked(handler(job.attrs.data as never, { touch: () => job.touch() }));
        },
        { lockLifetime: config.jobs.lockLifetimeMs, ...options },
      );
    },

    every(interval, name) {
      schedules.push({ interval, name });
    },

    async now(name, data) {
      await agenda.now(name, data);
    },

    async work() {
      if (announcing && channel) {
        // Agenda.start connects the channel itself.
        await channel.disconnect();
        announcing = false;
      }
      await agenda.start();
      for (const s of schedules) {
        // A schedule already there stays as it is: making it again would put its next run one
        // whole interval after this start, so processes restarted often would never reach it.
        const { jobs } = await agenda.queryJobs({ name: s.name });
        if (jobs.some((j) => j.type === 'single' && String(j.repeatInterval) === String(s.interval) && j.nextRunAt)) continue;
        // A "single" job: however many workers call this, one schedule exists, run by one at a time.
        await agenda.every(s.interval, s.name, undefined, { skipImmediate: true });
      }
      working = true;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (working) {
        // Nothing new starts, and jobs locked here but not started are released to other workers.
        await agenda.stop(false);
        // Running jobs finish, or past drainMs are left to be run again (e-mail: to its outbox lease).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...running]), new Promise((resolve) => (timer = setTimeout(resolve, config.jobs.drainMs)))]);
        clearTimeout(timer);
      } else if (announcing && channel) {
        await channel.disconnect();
      }
      await store.close();
    },
  };
}
