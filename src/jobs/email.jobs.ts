import type { Config } from '../config.ts';
import type { Outbox } from '../email/outbox.service.ts';
import type { JobQueue } from './queue.ts';

/** Sends one outbox message. Payload: `{ messageId }`, the outbox id and nothing else. */
export const SEND_EMAIL = 'send-email';
/** Runs on EMAIL_RESEND_CRON: sends what failed and is due, and what a dead worker left behind. */
export const RESEND_FAILED_EMAIL = 'resend-failed-email';

export interface SendEmailData {
  messageId: string;
}

/** The e-mail jobs: thin, the outbox decides what is sent and records what happened. */
export function defineEmailJobs(queue: JobQueue, { outbox, config }: { outbox: Outbox; config: Pick<Config, 'emailResendCron'> }) {
  queue.define<SendEmailData>(SEND_EMAIL, (data) => outbox.deliver(data.messageId), { removeOnComplete: true });
  // Each message can take a whole SMTP conversation: renew the job's lock between them.
  queue.define(RESEND_FAILED_EMAIL, (_data, job) => outbox.deliverDue({ onEach: () => job.touch() }), { concurrency: 1 });
  queue.every(config.emailResendCron, RESEND_FAILED_EMAIL);
}

/** Enqueue sending one outbox message (after the transaction that recorded it committed). */
export function enqueueEmail(queue: JobQueue, messageId: string): Promise<void> {
  return queue.now<SendEmailData>(SEND_EMAIL, { messageId });
}
