import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { createEmail } from './email/email.ts';
import { createLog } from './email/log.ts';
import type { Log } from './email/outbox.service.ts';
import type { Mailer } from './email/mailer.ts';
import { openJobs } from './jobs/jobs.ts';
import { closeOnSignals } from './ops/shutdown.ts';
import { loadConfigOrExit, openRuntime } from './runtime.ts';
import { createSecretBox } from './crypto/secret-box.ts';
import { createSecurityEvents } from './security/events.ts';
import { createMetrics, serveMetrics } from './ops/metrics.ts';

export interface Worker {
  mailer: Mailer;
  close(): Promise<void>;
}

/** The job worker: sends and re-sends e-mail from the outbox, and runs the sweeps. `npm run worker`, or inside a test. */
export async function startWorker({ config, database, log }: { config: Config; database: Database; log: Log }): Promise<Worker> {
  const { knex } = database;
  const metrics = createMetrics();
  const email = createEmail({ config, knex, box: createSecretBox(config.secrets), log, onDelivered: metrics.emailDelivered });
  metrics.backlogFrom(() => email.outbox.repo.backlog());
  const jobs = await openJobs({ config, database, log, outbox: email.outbox, events: createSecurityEvents({ knex, log, observe: metrics.securityEvent }) });
  // The worker's deliveries are counted here, not in the web process: give it its own METRICS_PORT.
  const metricsServer = config.metricsPort !== undefined ? await serveMetrics(metrics, { port: config.metricsPort, host: config.host }) : undefined;
  await jobs.work();
  return {
    mailer: email.mailer,
    async close() {
      await jobs.close();
      email.close();
      await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
    },
  };
}

/** `npm run worker`: the jobs alone, for deployments that run the web process with WORKER=off. */
async function main() {
  const config = loadConfigOrExit();
  const log = createLog(config.logLevel, 'gatehouse-worker');
  // The worker needs the database (and the job store), not Redis.
  const runtime = await openRuntime({ ...config, redisUrl: undefined, redisClusterNodes: undefined }, { attach: 'allow' });
  const worker = await startWorker({ config, database: runtime.database, log });

  // Handlers go in before "ready" is announced, as the server's do: a supervisor that signals
  // the moment it reads that line must get a graceful close, not the default kill.
  closeOnSignals({
    log,
    what: 'worker',
    timeoutMs: config.shutdownTimeoutSeconds * 1000,
    close: async () => {
      await worker.close();
      await runtime.close();
    },
  });
  log.info({ jobs: config.jobsBackend, transport: worker.mailer.kind, resendCron: config.emailResendCron }, 'Gatehouse worker is ready');
}

if (import.meta.main) {
  main().catch((err: Error) => {
    process.stderr.write(`gatehouse worker: ${err.message}\n`);
    process.exit(1);
  });
}
