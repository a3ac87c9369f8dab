import { parseArgs } from 'node:util';
import { AppError, NotFoundError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { createOutboxRepo, OUTBOX_STATUSES, type OutboxMessage, type OutboxStatus } from './outbox.repo.ts';

/**
 * `npx gatehouse outbox [--status queued|sent|failed|dead]` lists e-mail messages as JSON lines,
 * newest first; `npx gatehouse outbox retry ID` puts a dead (or failed) message back in the
 * queue with fresh attempts, enqueues its send job and prints it (CONTRACT.md).
 */

/** Bad command-line input: the CLI prints its message and usage and exits 64. */
export class OutboxUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboxUsageError';
  }
}

const PAGE = 500;

/** A message as the CLI prints it: what an operator needs, never its data (a sealed link) or bodies. */
function outboxLine(m: OutboxMessage) {
  return {
    id: m.id,
    to: m.toAddress,
    template: m.template,
    status: m.status,
    attempts: m.attempts,
    last_error: m.lastError,
    next_attempt_at: m.nextAttemptAt,
    created_at: m.createdAt,
    sent_at: m.sentAt,
    subject: m.subject,
    account_id: m.accountId,
  };
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/**
 * `enqueueEmail`: puts the send job of one message on the job store (src/jobs/email.jobs.ts);
 * `onRetried`: told of a retry, for the audit trail.
 */
export async function outboxCommand(
  runtime: Runtime,
  args: string[],
  enqueueEmail: (messageId: string) => Promise<void>,
  onRetried: (before: OutboxMessage, after: OutboxMessage) => Promise<void> = async () => {},
): Promise<void> {
  const repo = createOutboxRepo(runtime.database.knex);
  if (args[0] === 'retry') {
    const [, id, ...extra] = args;
    if (!id || extra.length) throw new OutboxUsageError('usage: gatehouse outbox retry ID');
    const found = await repo.findById(id);
    if (!found) throw new NotFoundError(`no outbox message with id ${id}`);
    const requeued = await repo.requeue(id);
    if (!requeued) throw new AppError('OUTBOX_NOT_RETRYABLE', 409, `outbox message ${id} is ${found.status}; only dead or failed messages are retried`);
    await onRetried(found, requeued);
    // Enqueued now, a running worker sends it at once; with none running it waits for one, and
    // if enqueueing fails the resend job still finds it queued.
    await enqueueEmail(id);
    print(outboxLine(requeued));
    return;
  }

  let values: { status?: string };
  try {
    ({ values } = parseArgs({ args, options: { status: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OutboxUsageError((err as Error).message);
  }
  const status = values.status;
  if (status !== undefined && !OUTBOX_STATUSES.includes(status as OutboxStatus)) {
    throw new OutboxUsageError(`--status: got ${JSON.stringify(status)}, expected one of ${OUTBOX_STATUSES.join(', ')}`);
  }
  for (let offset = 0; ; offset += PAGE) {
    const page = await repo.list({ status: status as OutboxStatus | undefined, limit: PAGE, offset });
    for (const m of page) print(outboxLine(m));
    if (page.length < PAGE) break;
  }
}
