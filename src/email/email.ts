import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { createMailer, type Mailer } from './mailer.ts';
import { createOutbox, type DeliveryOutcome, type Log, type Outbox } from './outbox.service.ts';

export interface Email {
  outbox: Outbox;
  mailer: Mailer;
  close(): void;
}

/**
 * The outbox and its transport, as every process that records or sends e-mail needs them.
 * The jobs that send it are src/jobs/email.jobs.ts.
 */
export function createEmail({ config, knex, box, log, onDelivered }: { config: Config; knex: Knex; box: SecretBox; log: Log; onDelivered?: (outcome: DeliveryOutcome) => void }): Email {
  const mailer = createMailer(config);
  const outbox = createOutbox({ knex, box, config, mailer, log, onDelivered });
  return { outbox, mailer, close: () => mailer.close() };
}
