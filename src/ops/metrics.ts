import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * `GET /metrics` (CONTRACT.md "Operations"): Prometheus text with the process's own metrics
 * (CPU, memory, event loop, GC) and every HTTP request by method, route and status. The
 * registry is the app's own, so several apps in one process (tests) do not share counters.
 *
 * Requests are counted when the response finishes on the socket: oidc-provider writes its
 * responses itself (reply.hijack), and Fastify's onResponse hook never sees those.
 */
export async function metricsRoutes(app: FastifyInstance) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'gatehouse_http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  app.addHook('onRequest', async (request, reply) => {
    const started = process.hrtime.bigint();
    reply.raw.once('finish', () => {
      // The route pattern, never the raw URL: ids and tokens in paths must not become labels.
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.raw.statusCode) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(await registry.metrics());
  });
}
