import { defaults } from '../../config/defaults.ts';
import type { Config } from '../../src/config.ts';
import type { OutboxMessage } from '../../src/email/outbox.repo.ts';
import type { TestServer } from '../helpers/server.ts';

/**
 * Config for e-mail tests: workers poll often and retry soon, so a test waits for what it
 * asserts on, not for production intervals. No assertion depends on how long anything took.
 */
export function fastEmail(over: Partial<Config['email']> = {}): Partial<Config> {
  return {
    jobs: { ...defaults.jobs, processEveryMs: 100, lockLifetimeMs: 1000 },
    email: { ...defaults.email, retryBaseSeconds: 1, retryMaxSeconds: 2, queuedGraceSeconds: 1, perAddressIntervalSeconds: 0, ...over },
  };
}

/** A resend job every second (cron with a seconds field). */
export const EVERY_SECOND = '* * * * * *';

/** Polls `check` until it returns a value; the test's timeout bounds the wait. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, everyMs = 50): Promise<T> {
  for (;;) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The outbox rows of an address, oldest first. */
export async function outboxTo(server: TestServer, address: string): Promise<OutboxMessage[]> {
  return (await server.app.email.outbox.repo.list()).filter((m) => m.toAddress === address).reverse();
}
