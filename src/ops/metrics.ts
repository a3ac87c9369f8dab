import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { NO_INPUT } from '../http/schemas.ts';

/**
 * What Gatehouse counts (CONTRACT.md "Metrics"), in one registry per process part: the web app
 * and the worker each make one (several apps in one test process do not share counters).
 * Besides the process's own metrics (CPU, memory, event loop, GC, prefixed `gatehouse_`):
 * - `http_request_duration_seconds{method,route,status_code}`: every answer, by route pattern;
 * - `gatehouse_logins_total{outcome}`: password sign-ins, `success`, `failure` (wrong login or
 *   password) or `locked` (refused by the throttle), counted from the security events, so the
 *   metric and the audit log cannot disagree;
 * - `gatehouse_registrations_total`: accounts registered (the `account.registered` event);
 * - `gatehouse_tokens_issued_total{grant_type}`: token endpoint grants that succeeded;
 * - `gatehouse_emails_total{status}`: deliveries by outcome, `sent`, `failed` (will retry), `dead`;
 * - `gatehouse_outbox_backlog`: messages waiting to be sent, read from Postgres at each scrape
 *   (so every instance reports the deployment's one outbox).
 */
export interface Metrics {
  registry: Registry;
  /** Observes one answered request. */
  request(method: string, route: string, statusCode: number, seconds: number): void;
  /** A security event was recorded (src/security/events.ts calls this for every one). */
  securityEvent(type: string, details: Record<string, unknown>): void;
  tokenIssued(grantType: string): void;
  emailDelivered(outcome: string): void;
  /** Where the backlog gauge reads from; scraped lazily. */
  backlogFrom(count: () => Promise<number>): void;
}

const EMAIL_STATUSES = new Set(['sent', 'failed', 'dead']);

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const registers = [registry];
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const logins = new Counter({ name: 'gatehouse_logins_total', help: 'Password sign-ins by outcome', labelNames: ['outcome'] as const, registers });
  const registrations = new Counter({ name: 'gatehouse_registrations_total', help: 'Accounts registered', registers });
  const tokens = new Counter({ name: 'gatehouse_tokens_issued_total', help: 'Token endpoint grants that succeeded', labelNames: ['grant_type'] as const, registers });
  const emails = new Counter({ name: 'gatehouse_emails_total', help: 'E-mail deliveries by outcome', labelNames: ['status'] as const, registers });
  let backlog: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'gatehouse_outbox_backlog',
    help: 'E-mail messages waiting to be sent (queued, failed and due for retry, or being sent)',
    registers,
    async collect() {
      if (!backlog) return;
      try {
        this.set(await backlog());
      } catch {
        // The database is down: /readyz says so; the scrape still answers with what it has.
      }
    },
  });

  return {
    registry,
    request(method, route, statusCode, seconds) {
      duration.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
    securityEvent(type, details) {
      if (type === 'login.succeeded') logins.inc({ outcome: 'success' });
      else if (type === 'login.failed') logins.inc({ outcome: details.reason === 'locked' ? 'locked' : 'failure' });
      else if (type === 'account.registered') registrations.inc();
    },
    tokenIssued(grantType) {
      tokens.inc({ grant_type: grantType });
    },
    emailDelivered(outcome) {
      if (EMAIL_STATUSES.has(outcome)) emails.inc({ status: outcome });
    },
    backlogFrom(count) {
      backlog = count;
    },
  };
}

async function exposition(metrics: Metrics): Promise<{ type: string; body: string }> {
  return { type: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/**
 * `GET /metrics` on the app's port unless `separatePort` (METRICS_PORT) serves them elsewhere.
 * Requests are observed by the access log's hook (src/http/access-log.ts: `observeRequest`).
 */
export async function metricsRoutes(app: FastifyInstance, { separatePort, metrics }: { metrics: Metrics; separatePort: boolean }) {
  if (separatePort) return;
  app.get('/metrics', { schema: NO_INPUT }, async (_request, reply) => {
    const { type, body } = await exposition(metrics);
    // Prometheus text is neither HTML nor JSON, which the headers plugin marks no-store itself.
    return reply.header('content-type', type).header('cache-control', 'no-store').send(body);
  });
}

/**
 * METRICS_PORT: `GET /metrics` on a port of its own, so a reverse proxy that publishes the app's
 * port does not publish the metrics. A plain node:http listener: one route, no pages, no cookies.
 */
export async function serveMetrics(metrics: Metrics, { port, host }: { port: number; host: string }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    exposition(metrics).then(
      ({ type, body }) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
