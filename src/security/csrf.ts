import fastifyCsrf from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { translate } from '../i18n/locale.ts';

/**
 * CSRF tokens for the hosted forms oidc-provider does not protect itself (ASVS V3.5.1):
 * registration, resend, forgot and reset password, the account page. Every page gets a token
 * in `reply.locals.csrf` (views print it with `{{> hidden}}`), and every POST must bring it
 * back. Synchroniser tokens (@fastify/csrf-protection) with the secret in a signed cookie.
 *
 * Exempt, because something stronger already binds them to the user's browser:
 * `/interaction/*` (oidc-provider's interaction cookie, scoped to that very path and uid),
 * `/session/*` (JSON with an Origin allow-list, src/first-party), and the provider's own routes.
 */
const EXEMPT_PREFIX = '/interaction/';

export class CsrfError extends AppError {
  constructor() {
    super('CSRF_FAILED', 403, translate('error.csrf'));
    this.name = 'CsrfError';
  }
}

export async function registerCsrf(scope: FastifyInstance, { secure }: { secure: boolean }) {
  await scope.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'gatehouse_csrf',
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', secure, signed: true },
    getToken: (request) => (request.body as Record<string, unknown> | undefined)?._csrf as string | undefined,
  });

  // Matched route patterns, not raw URLs (which carry query strings).
  const route = (request: FastifyRequest) => request.routeOptions.url ?? '';

  scope.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    // JSON endpoints render no form: no token, no cookie.
    if (route(request) === '/session' || route(request).startsWith('/session/')) return done();
    const provide = () => {
      // @fastify/view merges reply.locals into every template's data.
      const withLocals = reply as FastifyReply & { locals?: Record<string, unknown> };
      withLocals.locals = { ...(withLocals.locals ?? {}), csrf: reply.generateCsrf() };
      done();
    };
    // Exempt pages still get a token: they may hold forms that post elsewhere (the login
    // page's "resend confirmation" form posts to /verify-email/resend).
    if (request.method !== 'POST' || route(request).startsWith(EXEMPT_PREFIX)) return provide();
    // On a bad or missing token the plugin replies with its error itself (app.ts words it).
    scope.csrfProtection(request, reply, () => provide());
  });
}
