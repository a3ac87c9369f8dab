import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { AppError, isDependencyDown } from './errors.ts';
import { boundConnections, connectionOptions } from './http/connections.ts';
import { registerViews, translate } from './http/views.ts';
import { interactionRoutes } from './interactions/interactions.routes.ts';
import { deleteExpiredPayloads } from './oidc/adapters/postgres.adapter.ts';
import { createOidcHost } from './oidc/host.ts';
import { ensureSigningKeys } from './oidc/keys.ts';
import { oidcRoutes } from './oidc/oidc.routes.ts';
import { healthRoutes } from './ops/health.routes.ts';
import { metricsRoutes } from './ops/metrics.ts';
import fp from 'fastify-plugin';
import { firstPartyRoutes } from './first-party/first-party.routes.ts';
import { registerSecurityHeaders, hardenProviderResponses } from './security/headers.ts';
import { registerRateLimits } from './security/rate-limits.ts';
import { CsrfError, registerCsrf } from './security/csrf.ts';
import { createCaptchaVerifier, type CaptchaVerifier } from './security/captcha.ts';
import { createSecurityEvents, type SecurityEvents } from './security/events.ts';
import { createLoginThrottle, type LoginThrottle } from './security/login-throttle.ts';
import { createPasswordLogin, type PasswordLogin } from './security/password-login.ts';
import { createServices, type Services } from './services.ts';
import { openEmail } from './email/email.ts';
import selfServicePages from './accounts/self-service/self-service.routes.ts';

export interface AppDeps {
  config: Config;
  database: Database;
  redis?: Redis;
}

/** Requests a person makes with a browser get HTML errors; API callers get JSON. */
function wantsHtml(request: FastifyRequest) {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') && !request.url.startsWith('/admin/api') && !request.url.startsWith('/session');
}

async function sendError(reply: FastifyReply, request: FastifyRequest, status: number, code: string, message: string, fields?: Record<string, string>) {
  reply.code(status).header('cache-control', 'no-store');
  if (wantsHtml(request)) return reply.view('error', { title: translate('error.title'), code, message });
  return reply.send({ error: code, message, ...(fields ? { fields } : {}) });
}

/**
 * The Gatehouse app: oidc-provider behind Fastify, hosted pages, and the JSON APIs.
 * Performs no I/O at import; `buildApp` makes sure signing keys exist, nothing more.
 */
export async function buildApp({ config, database, redis }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    },
    trustProxy: (config.trustProxy ?? false) as boolean,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    ...connectionOptions(config.http),
  });
  boundConnections(app, config.http);

  const services = createServices({ config, database, redis });
  const { knex, box, accounts, clients, adapter } = services;

  await ensureSigningKeys(knex, box);
  await registerViews(app, { production: config.production });
  const render = (view: string, data: Record<string, unknown>) => app.view(view, data) as Promise<string>;
  const host = await createOidcHost({
    config,
    accounts,
    clients,
    adapter,
    render,
    knex,
    box,
    onError: (err) => app.log.error(err),
    configure: (provider) => {
      hardenProviderResponses(provider, { https: config.issuer.startsWith('https:') });
      // The provider answers these itself (500 server_error, or 503 when storage is down):
      // without this they would reach no log at all.
      provider.on('server_error', (_ctx, err) => app.log.error({ err }, 'oidc-provider request failed'));
    },
  });

  // Issue 5: captcha, brute-force throttle and security events, shared by every login route.
  const captcha = createCaptchaVerifier({ ...config.captcha, redis, prefix: config.redisPrefix });
  const throttle = createLoginThrottle({ redis, prefix: config.redisPrefix, config: config.throttle });
  const events = createSecurityEvents({ knex, log: app.log });
  const passwordLogin = createPasswordLogin({ throttle, captcha, events });
  app.decorate('gatehouse', { ...services, config, host, redis, security: { captcha, throttle, events, passwordLogin } });

  // Set before any plugin is registered: child contexts take the handlers they see then.
  app.setNotFoundHandler((request, reply) => sendError(reply, request, 404, 'NOT_FOUND', translate('error.not_found')));
  app.setErrorHandler((err: FastifyError, request, reply) => {
    // @fastify/csrf-protection replies with its own errors: say it in our words.
    if (err.code?.startsWith('FST_CSRF_')) err = new CsrfError() as unknown as FastifyError;
    if (err instanceof AppError) return sendError(reply, request, err.statusCode, err.code, err.message, err.fields);
    if (isDependencyDown(err)) {
      request.log.error({ err }, 'a dependency is unavailable');
      return sendError(reply, request, 503, 'SERVICE_UNAVAILABLE', translate('error.unavailable'));
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      // Fastify's own 4xx (bad JSON, body too large, wrong content type): say what, not how.
      return sendError(reply, request, status, err.code ?? 'BAD_REQUEST', err.message);
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, request, 500, 'INTERNAL_ERROR', translate('error.internal'));
  });

  await app.register(fastifyCookie, { secret: config.secrets });
  // Issue 5: before any route, so that every route gets the headers and its rate limit.
  await registerSecurityHeaders(app, { https: config.issuer.startsWith('https:'), captcha: captcha.widget?.csp });
  await registerRateLimits(app, { redis, prefix: config.redisPrefix });
  // Before the routes: its hook must see every request.
  await app.register(fp(metricsRoutes, { name: 'gatehouse-metrics' }));
  await app.register(oidcRoutes, { host });
  await app.register(async (pages) => {
    // Pages take form posts (and JSON for /session/*); any other body type is a 415.
    pages.removeContentTypeParser('text/plain');
    await pages.register(fastifyFormbody);
    await registerCsrf(pages, { secure: config.issuer.startsWith('https:') });
    await pages.register(interactionRoutes, { host, accounts, passwordLogin, captcha, throttle });
    // --- issue 3: self-service pages (register, verify-email, forgot/reset password, account) ---
    // The outbox and its job queue belong to the app: the jobs section below runs them too.
    app.decorate('email', await openEmail({ config, database, box, log: app.log }));
    await pages.register(selfServicePages, { config, knex, host, accounts, hasher: services.hasher, email: app.email });
    // --- issue 4: first-party sessions (/session/*, /login) ---
    await pages.register(firstPartyRoutes, { host });
  });
  // --- issue 3: jobs (inline worker when WORKER=inline) ---
  if (config.worker === 'inline') await app.email.work();
  app.addHook('onClose', async () => app.email.close());
  await app.register(healthRoutes, {
    checks: {
      database: () => knex.raw('select 1'),
      ...(redis ? { redis: () => redis.ping() } : {}),
      jobs: () => app.email.jobs.ping(),
    },
  });

  if (!redis) {
    const sweep = setInterval(() => deleteExpiredPayloads(knex).catch((err) => app.log.warn({ err }, 'expired payload sweep failed')), 10 * 60 * 1000);
    sweep.unref();
    app.addHook('onClose', async () => clearInterval(sweep));
  }
  // Security events are kept for config.securityEvents.retentionDays (issue 5).
  const purge = setInterval(
    () => events.purgeOlderThan(config.securityEvents.retentionDays).catch((err) => app.log.warn({ err }, 'security event purge failed')),
    60 * 60 * 1000,
  );
  purge.unref();
  app.addHook('onClose', async () => clearInterval(purge));
  app.addHook('onClose', async () => host.close());


  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    gatehouse: Services & {
      config: Config;
      host: Awaited<ReturnType<typeof createOidcHost>>;
      redis?: Redis;
      security: { captcha: CaptchaVerifier; throttle: LoginThrottle; events: SecurityEvents; passwordLogin: PasswordLogin };
    };
  }
}
