/** What shutdown logs: pino's signature (the server's logger, the worker's). */
interface ShutdownLog {
  info(obj: object, msg?: string): void;
}

/**
 * Graceful shutdown of a process entry (`npm start`, `npm run worker`): on SIGINT or SIGTERM,
 * once, run `close` (stop accepting, finish what runs, close pools), then exit 0. Past
 * `timeoutMs` the process exits 1 whatever is still running: a stuck close must not keep an
 * orchestrator waiting forever.
 */
export function closeOnSignals({ log, what, timeoutMs, close }: { log: ShutdownLog; what: string; timeoutMs: number; close: () => Promise<void> }) {
  let closing = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, `${what} shutting down`);
    const force = setTimeout(() => process.exit(1), timeoutMs);
    force.unref();
    await close();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(signal));
}
