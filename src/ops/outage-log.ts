import type { FastifyBaseLogger } from 'fastify';

/** No failure for this long ends an outage in the log. */
const QUIET_MS = 5_000;

/**
 * Logs a storage outage once per state change instead of once per failed request (issue 15:
 * a 20 s Redis outage wrote 1,764 stack traces). The first failure is logged with its error;
 * the ones after it are counted, and the count is logged when failures stop.
 */
export function createOutageLog(log: FastifyBaseLogger, quietMs = QUIET_MS) {
  let failed = 0;
  let since = 0;
  let timer: NodeJS.Timeout | undefined;
  const end = () => {
    log.warn({ failedRequests: failed, seconds: Math.round((Date.now() - since) / 1000) }, 'a dependency answers again (no failures for a while)');
    failed = 0;
    timer = undefined;
  };
  return {
    failure(err: Error) {
      if (failed++ === 0) {
        since = Date.now();
        log.error({ err }, 'a dependency is unavailable; further failures are counted until it answers');
      }
      clearTimeout(timer);
      timer = setTimeout(end, quietMs);
      timer.unref();
    },
  };
}
