import type { Log } from '../email/outbox.service.ts';

/**
 * Work done after the answer is sent: the answer to "mail me a link" must not depend on whether
 * there is an account to mail, in content or in time. `drain` waits for what is running.
 */
export function createBackground(log: Log) {
  const running = new Set<Promise<void>>();
  return {
    run(what: string, task: () => Promise<void>) {
      const p: Promise<void> = task()
        .catch((err: Error) => log.error({ err: err.message }, `${what} failed`))
        .finally(() => running.delete(p));
      running.add(p);
    },
    async drain() {
      await Promise.all([...running]);
    },
  };
}

export type Background = ReturnType<typeof createBackground>;
