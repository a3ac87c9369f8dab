import { randomUUID } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import { pino } from 'pino';
import { registerAccessLog } from './http/access-log.ts';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { checkRedis, type RedisClient } from './redis.ts';
import { adminApiRoutes } from './admin/admin.routes.ts';
import { adminConsoleRoutes } from './admin/console/console.routes.ts';
import type { Account } from './accounts/accounts.service.ts';
import { createSelfService } from './accounts/self-service/self-service.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { createEmail, type Email } from './email/email.ts';
import { mailboxRoutes } from './email/mailbox.routes.ts';
import { providerLogoutHook } from './first-party/browser-sign-out.ts';
import { withSessionCallback } from './first-party/client-metadata.ts';
import { firstPartyRoutes } from './first-party/first-party.routes.ts';
import { createFirstPartyContext, type FirstPartyContext } from './first-party/context.ts';
import { createSessionReader } from './first-party/session.ts';
import { boundConnections, connectionOptions } from './http/connections.ts';
import { answerFrameworkError, registerErrorHandlers } from './http/errors.ts';
import { useRouteSchemas } from './http/schemas.ts';
import { registerViews } from './http/views.ts';
import { openJobs, type Jobs } from './jobs/jobs.ts';
import { createOidcHost, type OidcHost } from './oidc/host.ts';
import { ensureSigningKeys } from './oidc/keys.ts';
import { oidcRoutes } from './oidc/oidc.routes.ts';
import { healthRoutes } from './ops/health.routes.ts';
import { createMetrics, metricsRoutes, serveMetrics } from './ops/metrics.ts';
import { logoutPages } from './pages/logout/logout.routes.ts';
import { pagesRoutes } from './pages/pages.routes.ts';
import { createCaptchaVerifier, type CaptchaVerifier } from './security/captcha.ts';
import { registerCsrf } from './security/csrf.ts';
import { createSecurityEvents, type SecurityEventContext, type SecurityEvents } from './security/events.ts';
import { hardenProviderResponses, registerSecurityHeaders } from './security/headers.ts';
import { createLoginThrottle, type LoginThrottle } from './security/login-throttle.ts';
import { createPasswordLogin, type PasswordLogin } from './accounts/passwords/password-login.ts';
import { mailLockNotice } from './accounts/recovery/lock-notice.ts';
import { createMfa } from './accounts/mfa/mfa.ts';
import { removeFactorsByAdmin } from './accounts/mfa/admin-removal.ts';
import { mailFactorNotice } from './accounts/mfa/notices.ts';
import { createPasskeys } from './accounts/passkeys/passkeys.service.ts';
import { normalizeEmail } from './identifiers.ts';
import { registerRateLimits } from './security/rate-limits.ts';
import { createServices, type Services } from './services.ts';

export interface AppDeps {
  config: Config;
  database: Database;
  redis?: RedisClient;
}

/** The services one app was built with: what its plugins were given, and what tests look into. */
export type AppServices = Services & {
  config: Config;
  host: OidcHost;
  redis?: RedisClient;
  security: { captcha: CaptchaVerifier; throttle: LoginThrottle; events: SecurityEvents; passwordLogin: PasswordLogin };
  firstParty: FirstPartyContext;
};

/** The outbox and the job queue of one app. */
export type AppEmail = Email & { jobs: Jobs };

export interface Gatehouse {
  app: FastifyInstance;
  services: AppServices;
  email: AppEmail;
}

/**
 * The Gatehouse app: oidc-provider behind Fastify, hosted pages, and the JSON APIs.
 * Performs no I/O at import; `buildApp` makes sure signing keys exist, nothing more.
 * Every plugin is given what it uses as options: the app carries no services of its own.
 */
export async function buildApp({ config, database, redis }: AppDeps): Promise<Gatehouse> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      // Asynchronous writes (issue 9): lines written while one write is in flight go out
      // together, instead of one blocking write(2) per line; pino flushes what is left at exit.
      stream: pino.destination({ fd: 1, sync: false }),
    },
    // One line per request, with its status, from registerAccessLog (src/http/access-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: (config.trustProxy ?? false) as boolean,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: answerFrameworkError,
    // Unique across instances and restarts: error pages show it as their reference, and every log line of the request carries it (reqId).
    genReqId: () => randomUUID(),
    ...connectionOptions(config.http),
  });
  boundConnections(app, config.http);
  // Before any route: every route's schema is zod's, and a failure is our ValidationError.
  useRouteSchemas(app);
  const https = config.issuer.startsWith('https:');

  // --- services ---
  const metrics = createMetrics();
  // The route pattern, never the raw URL: ids and tokens in paths must not become labels.
  registerAccessLog(app, { observe: (request, status, seconds) => metrics.request(request.method, request.routeOptions.url ?? 'unmatched', status, seconds) });
  const services = createServices({ config, database, redis, log: app.log });
  const { knex, box, accounts, clients, adapter } = services;
  await ensureSigningKeys(knex, box);
  clients.startCache(); // issue 9: clients served from memory, invalidated by every instance's writes
  app.addHook('onClose', () => clients.close());
  await registerViews(app, { production: config.production, brand: config.brand, passwordMinLength: config.passwordPolicy.minLength });
  const render = (view: string, data: Record<string, unknown>) => app.view(view, data) as Promise<string>;
  const providerLogout = providerLogoutHook({ knex, config, log: app.log });
  const host = await createOidcHost({
    config,
    accounts,
    clients,
    adapter,
    render,
    logoutPages: logoutPages(render),
    loadedClient: (metadata) => withSessionCallback(metadata, config.issuer),
    knex,
    box,
    onError: (err) => app.log.error(err),
    configure: (provider) => {
      hardenProviderResponses(provider, { https });
      // The provider answers these itself (500 server_error, or 503 when storage is down):
      // without this they would reach no log at all.
      provider.on('server_error', (_ctx, err) => app.log.error({ err }, 'oidc-provider request failed'));
      provider.on('grant.success', (ctx) => metrics.tokenIssued(String(ctx.oidc.params?.grant_type ?? 'unknown')));
      // `/logout` ends the browser's first-party session too (issue 12).
      provider.on('end_session.success', providerLogout);
    },
  });
  app.addHook('onClose', async () => host.close());
  // Issue 5: captcha, brute-force throttle and security events, shared by every login route.
  const captcha = createCaptchaVerifier({ ...config.captcha, redis, prefix: config.redisPrefix });
  const throttle = createLoginThrottle({ redis, prefix: config.redisPrefix, config: config.throttle });
  const events = createSecurityEvents({ knex, log: app.log, observe: metrics.securityEvent });
  const passwordLogin = createPasswordLogin({
    throttle,
    captcha,
    events,
    // Issue 12: failures count per account whichever of its logins was typed; its owner hears of a lock.
    findAccountId: async (login) => (await accounts.repo.findByLogin(normalizeEmail(login)))?.id,
    onAccountLocked: (accountId) => lockNotice(accountId),
  });
  const lockNotice = (accountId: string, template?: 'second-factor-locked') =>
    void mailLockNotice(selfService, accountId, template).catch((err: unknown) => app.log.error({ err }, 'could not mail a lock notice'));
  // Issue 13: second factors, their codes under the same throttle as passwords.
  const onFactorAdded = (accountId: string) => void mailFactorNotice(selfService, accountId, 'factor-added').catch((err: unknown) => app.log.error({ err }, 'could not mail a factor notice'));
  const mfa = createMfa({ knex, box, issuerName: config.brand.name, policy: config.mfa, throttle, events, onAccountLocked: (id) => lockNotice(id, 'second-factor-locked'), onFactorAdded });
  const passkeys = createPasskeys({ knex, issuer: config.issuer, rpName: config.brand.name });
  // Keys and first-party clients, shared by /session and by the pages' `currentUser`.
  const firstParty = createFirstPartyContext({ knex, box, config, host });
  const reader = createSessionReader({ issuer: config.issuer, accounts, context: firstParty });
  // The outbox, and the jobs that send it and sweep what expired (run here when WORKER=inline).
  const email = createEmail({ config, knex, box, log: app.log, onDelivered: metrics.emailDelivered });
  metrics.backlogFrom(() => email.outbox.repo.backlog());
  const jobs = await openJobs({ config, database, log: app.log, outbox: email.outbox, events });
  app.addHook('onClose', async () => {
    await jobs.close();
    email.close();
  });
  const selfService = createSelfService({ knex, accounts, hasher: services.hasher, outbox: email.outbox, enqueueEmail: (id) => jobs.enqueueEmail(id), config, log: app.log });

  // What the admin API and console act with (issue 11).
  const adminDeps = {
    provider: host.provider,
    clients,
    accounts,
    events,
    knex,
    outbox: email.outbox.repo,
    enqueueEmail: (id: string) => jobs.enqueueEmail(id),
    mailVerification: (account: Account) => selfService.mailLink(account, { purpose: 'verify', ttlSeconds: config.email.verifyTokenTtlSeconds }),
  };

  // --- HTTP: errors, headers and limits first, so that every route gets them ---
  registerErrorHandlers(app);
  await app.register(fastifyCookie, { secret: config.secrets });
  await registerSecurityHeaders(app, { https, captcha: captcha.widget?.csp });
  await registerRateLimits(app, { redis, prefix: config.redisPrefix, limits: config.rateLimits, clients });
  // Before the routes: its hook must see every request.
  await app.register(fp(metricsRoutes, { name: 'gatehouse-metrics' }), { metrics, separatePort: config.metricsPort !== undefined });
  if (config.metricsPort !== undefined) {
    const metricsServer = await serveMetrics(metrics, { port: config.metricsPort, host: config.host });
    app.addHook('onClose', (_app, done) => void metricsServer.close(() => done()));
  }

  // --- routes ---
  await app.register(oidcRoutes, { host });
  await app.register(async (pages) => {
    // Pages take form posts (and JSON for /session/*); any other body type is a 415.
    pages.removeContentTypeParser('text/plain');
    await pages.register(fastifyFormbody);
    await registerCsrf(pages, { secure: https });
    await pages.register(pagesRoutes, { config, host, accounts, selfService, passwordLogin, captcha, throttle, events, mfa, passkeys, currentUser: reader.user, devMailbox: email.mailer.kind === 'mailbox' });
    if (email.mailer.kind === 'mailbox') await pages.register(mailboxRoutes, { outbox: email.outbox.repo });
    // Issue 11: the admin console, a hosted page (forms, CSRF) for admins.
    await pages.register(adminConsoleRoutes, { ...adminDeps, issuer: config.issuer, currentUser: reader.user });
    await pages.register(firstPartyRoutes, { config, host, knex, accounts, clients, events, passwordLogin, mfa, context: firstParty, reader });
  });
  // Issue 11: the admin API, in a scope of its own (its errors, serializers and OpenAPI document).
  const removeFactors = (accountId: string, by: SecurityEventContext) => removeFactorsByAdmin({ factors: mfa.factors, selfService, events }, accountId, by);
  await app.register(adminApiRoutes, { prefix: '/admin/api', ...adminDeps, removeFactors });
  await app.register(healthRoutes, {
    checks: {
      database: () => knex.raw('select 1'),
      ...(redis ? { redis: () => checkRedis(redis) } : {}),
      jobs: () => jobs.ping(),
    },
  });

  // --- jobs ---
  if (config.worker === 'inline') await jobs.work();
  return {
    app,
    services: { ...services, config, host, redis, security: { captcha, throttle, events, passwordLogin }, firstParty },
    email: { ...email, jobs },
  };
}
