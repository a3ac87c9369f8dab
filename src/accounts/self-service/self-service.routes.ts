import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Email } from '../../email/email.ts';
import { mailboxRoutes } from '../../email/mailbox.routes.ts';
import { translate } from '../../http/views.ts';
import type { OidcHost } from '../../oidc/host.ts';
import type { CaptchaVerifier } from '../../security/captcha.ts';
import type { SecurityEvents } from '../../security/events.ts';
import type { Accounts } from '../accounts.service.ts';
import type { PasswordHasher } from '../passwords/hasher.ts';
import { recoveryRoutes } from '../recovery/recovery.routes.ts';
import { registrationRoutes } from '../registration/registration.routes.ts';
import { settingsRoutes } from '../settings/settings.routes.ts';
import { verificationRoutes } from '../verification/verification.routes.ts';
import { createBackground, type Background } from './pages.ts';
import { createSelfService, type SelfService } from './self-service.ts';

export interface SelfServiceOptions {
  config: Config;
  knex: Knex;
  host: OidcHost;
  accounts: Accounts;
  hasher: PasswordHasher;
  email: Email;
  /** Enqueues the send job of an outbox message (src/jobs/email.jobs.ts). */
  enqueueEmail: (messageId: string) => Promise<void>;
}

/** What each flow's routes receive. */
export interface SelfServicePagesOptions {
  selfService: SelfService;
  host: OidcHost;
  config: Config;
  background: Background;
  /** Issue 5's captcha (registration and reset requests) and security events. */
  security: { captcha: CaptchaVerifier; events: SecurityEvents };
}

// The login page of an OIDC interaction (interactions.routes.ts) offers "send the confirmation
// again" when a sign-in is refused for an unconfirmed address, and says so after a confirmation
// link sent the person back. It learns both from these view locals.
const INTERACTION_PAGE = /^\/interaction\/([A-Za-z0-9_-]{8,64})(?:\/login)?(?:\?(.*))?$/;

/**
 * The self-service pages of issue 3: registration, e-mail confirmation, password recovery,
 * the account page, and the dev mailbox. A fastify-plugin, because the login-page locals hook
 * must reach the interaction routes registered beside it.
 */
async function selfServicePages(app: FastifyInstance, { config, knex, host, accounts, hasher, email, enqueueEmail }: SelfServiceOptions) {
  const selfService = createSelfService({
    knex,
    accounts,
    hasher,
    outbox: email.outbox,
    enqueueEmail,
    config,
    log: app.log,
  });
  const background = createBackground(app.log);
  app.addHook('onClose', () => background.drain());

  app.addHook('onRequest', async (request, reply) => {
    const m = INTERACTION_PAGE.exec(request.url);
    if (!m) return;
    // @fastify/view merges `reply.locals` into every view's data (its types do not declare it).
    const withLocals = reply as typeof reply & { locals?: Record<string, unknown>; generateCsrf?: () => string };
    withLocals.locals = {
      ...withLocals.locals,
      offerResend: { EMAIL_NOT_VERIFIED: true },
      interactionUid: m[1],
      // Interaction pages are exempt from CSRF tokens (src/security/csrf.ts), but the resend
      // form on the login page posts to a page that is not: it needs a token of its own.
      ...(withLocals.generateCsrf ? { csrf: withLocals.generateCsrf() } : {}),
      ...(new URLSearchParams(m[2] ?? '').get('verified') === '1' ? { notice: translate('verify.continue_notice') } : {}),
    };
  });

  const { captcha, events } = app.gatehouse.security;
  const options: SelfServicePagesOptions = { selfService, host, config, background, security: { captcha, events } };
  await app.register(registrationRoutes, options);
  await app.register(verificationRoutes, options);
  await app.register(recoveryRoutes, options);
  await app.register(settingsRoutes, options);
  if (email.mailer.kind === 'mailbox') await app.register(mailboxRoutes, { outbox: email.outbox.repo });
}

export default fp(selfServicePages, { name: 'gatehouse-self-service', fastify: '5.x' });
