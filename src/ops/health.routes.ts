import type { FastifyInstance } from 'fastify';
import { RETRY_AFTER_SECONDS } from '../http/errors.ts';
import { NO_INPUT } from '../http/schemas.ts';

/** A named dependency check for /readyz; resolves when the dependency answers. */
export type ReadinessCheck = () => Promise<unknown>;

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * `/healthz`: the process is alive. `/readyz`: every dependency answers, else 503 naming it
 * (CONTRACT.md: `{"status": "ok"|"unavailable", "checks": {name: "ok"|"unavailable"}}`). Why
 * one failed is not told: this answer is public and error messages name hosts (the
 * outage log of the failing requests says it).
 */
export async function healthRoutes(app: FastifyInstance, { checks }: { checks: Record<string, ReadinessCheck> }) {
  app.get('/healthz', { schema: NO_INPUT }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: NO_INPUT }, async (request, reply) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, 'ok'] as const;
        } catch (err) {
          request.log.debug({ check: name, err: (err as Error).message }, 'readiness check failed');
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    if (!ready) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ok' : 'unavailable', checks: Object.fromEntries(results) });
  });
}
