import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { openEmail, type Email } from './email/email.ts';
import { createLog } from './email/log.ts';
import type { Log } from './email/outbox.service.ts';
import { loadConfigOrExit, openRuntime } from './runtime.ts';
import { createSecretBox } from './security/secret-box.ts';

/** The job worker: sends and re-sends e-mail from the outbox. `npm run worker`, or inside a test. */
export async function startWorker({ config, database, log }: { config: Config; database: Database; log: Log }): Promise<Email> {
  const email = await openEmail({ config, database, box: createSecretBox(config.secrets), log });
  await email.work();
  return email;
}

/** `npm run worker`: the jobs alone, for deployments that run the web process with WORKER=off. */
async function main() {
  const config = loadConfigOrExit();
  const log = createLog(config.logLevel, 'gatehouse-worker');
  // The worker needs the database (and the job store), not Redis.
  const runtime = await openRuntime({ ...config, redisUrl: undefined }, { attach: 'allow' });
  const worker = await startWorker({ config, database: runtime.database, log });
  log.info({ jobs: config.jobsBackend, transport: worker.mailer.kind, resendCron: config.emailResendCron }, 'Gatehouse worker is ready');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'worker shutting down');
    const force = setTimeout(() => process.exit(1), config.jobs.drainMs + 5_000);
    force.unref();
    await worker.close();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

if (import.meta.main) {
  main().catch((err: Error) => {
    process.stderr.write(`gatehouse worker: ${err.message}\n`);
    process.exit(1);
  });
}
