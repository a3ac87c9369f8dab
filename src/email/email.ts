import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { SecretBox } from '../security/secret-box.ts';
import { openJobs, type Jobs } from './jobs.ts';
import { createMailer, type Mailer } from './mailer.ts';
import { createOutbox, type Log, type Outbox } from './outbox.service.ts';

export interface Email {
  outbox: Outbox;
  jobs: Jobs;
  mailer: Mailer;
  /** Run the e-mail jobs in this process (WORKER=inline, or `npm run worker`). */
  work(): Promise<void>;
  close(): Promise<void>;
}

/** The outbox, its transport and its jobs, as every process that records or sends e-mail needs them. */
export async function openEmail({ config, database, box, log }: { config: Config; database: Database; box: SecretBox; log: Log }): Promise<Email> {
  const mailer = createMailer(config);
  const outbox = createOutbox({ knex: database.knex, box, config, mailer, log });
  const jobs = await openJobs({ config, database, log });
  return {
    outbox,
    jobs,
    mailer,
    work: () => jobs.work(outbox),
    async close() {
      await jobs.close();
      mailer.close();
    },
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The outbox and its jobs (src/app.ts opens them; issue 3). */
    email: Email;
  }
}
