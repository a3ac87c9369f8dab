import fastifyCors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../errors.ts';
import { isPlausibleIdentifier } from '../identifiers.ts';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { jsonBody, NO_INPUT, optionalJsonText, requiredJsonText } from '../http/schemas.ts';
import { requestContext } from '../security/events.ts';
import { sessionScope } from './code-flow.ts';
import type { FirstPartyDeps } from './context.ts';
import { clearSessionCookies, REFRESH_COOKIE, setSessionCookies, type CookieOptions } from './cookies.ts';
import { firstPartyClient } from './first-party-client.ts';
import { NotFirstPartyError, OriginNotAllowedError, RefreshError, UnauthenticatedError } from './errors.ts';
import { sessionOrigins } from './origins.ts';
import { sessionUserOf, type SessionReader, type SessionUser } from './session.ts';
import type { IssuedSession, Sessions } from './sessions.service.ts';
import { sessionStartRoutes } from './session-start.routes.ts';
import type { Mfa } from '../accounts/mfa/mfa.ts';
import { SecondFactorRequiredError } from '../accounts/mfa/mfa.errors.ts';

export interface SessionRoutesOptions extends FirstPartyDeps {
  reader: SessionReader;
  sessions: Sessions;
  cookies: CookieOptions;
  mfa: Pick<Mfa, 'nextStep'>;
}

/** CONTRACT.md `POST /session/login`: a missing field is `required`, a wrong-typed one `must be a string`. */
const loginSchema = {
  body: jsonBody({ client_id: requiredJsonText, login: requiredJsonText, password: requiredJsonText, captcha: optionalJsonText }),
};

/** The JSON body of GET /session, and of a successful login or refresh. */
function sessionBody(user: SessionUser, clientId: string, expiresAt: number) {
  return { ...user, client_id: clientId, expires_at: expiresAt };
}

/**
 * `/session` (registered with that prefix): the first-party session API of CONTRACT.md.
 *
 * CSRF: the cookies ride along on any request the browser makes to Gatehouse, so every POST
 * must come from a page of Gatehouse or of a first-party app, as its `Origin` says. A missing
 * Origin, and `Origin: null` (what browsers send for a form posted under `Referrer-Policy:
 * no-referrer`, Gatehouse's own policy, and from sandboxed or file pages) are refused: the
 * sender cannot be told apart from anyone else. Pages of Gatehouse calling `/session` with
 * fetch set `referrerPolicy: 'same-origin'` on the request, which makes the browser send
 * their real Origin. CORS with credentials is granted to exactly the same origins.
 */
export async function sessionRoutes(scope: FastifyInstance, options: SessionRoutesOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const { sessions, cookies, config, accounts, clients, passwordLogin, reader, mfa } = options;
  const { repo } = options.context;

  // Both CORS and the CSRF check ask: one look-up per request.
  const originsOf = new WeakMap<FastifyRequest, Promise<Set<string>>>();
  const allowedOrigins = (request: FastifyRequest) => {
    let origins = originsOf.get(request);
    if (!origins) {
      origins = sessionOrigins(config.issuer, repo);
      originsOf.set(request, origins);
    }
    return origins;
  };

  await app.register(fastifyCors, {
    hook: 'onRequest',
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      if (!origin) return callback(null, { origin: false });
      allowedOrigins(request as FastifyRequest).then(
        (allowed) => callback(null, { origin: allowed.has(origin) ? origin : false, credentials: true, methods: ['GET', 'POST'], allowedHeaders: ['content-type'], maxAge: 600 }),
        (err: Error) => callback(err, { origin: false }),
      );
    },
  });

  app.addHook('onRequest', async (request) => {
    if (request.method !== 'POST') return;
    const origin = request.headers.origin;
    if (!origin || origin === 'null' || !(await allowedOrigins(request)).has(origin)) throw new OriginNotAllowedError();
  });

  // Nothing under /session may be stored by a cache: it is all per user, much of it tokens.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  async function respond(reply: FastifyReply, session: IssuedSession) {
    const account = await accounts.findById(session.family.accountId);
    if (!account) throw new RefreshError('SESSION_REVOKED');
    setSessionCookies(reply, cookies, session);
    return reply.send(sessionBody(sessionUserOf(account), session.family.clientId, session.accessToken.expiresAt));
  }

  app.get('/', { schema: NO_INPUT }, async (request) => {
    const session = await reader.session(request);
    if (!session) throw new UnauthenticatedError();
    return sessionBody(session.user, session.token.client_id, session.token.exp);
  });

  app.post('/login', { schema: loginSchema }, async (request, reply) => {
    const { client_id: clientId, login, password, captcha } = request.body;
    if (!isPlausibleIdentifier(login.trim())) throw new ValidationError({ login: 'not an e-mail address or username' });
    const client = await firstPartyClient(clients, clientId);
    // The hosted login's rules (throttle, captcha, events); a JSON login verifies a captcha every time.
    const account = await passwordLogin(
      requestContext(request),
      { login, captchaToken: captcha, alwaysCaptcha: true, clientId: client.client_id },
      () => accounts.authenticate(login, password),
    );
    // Issue 13: a password alone never opens a session of an account that signs in with a
    // second factor (or must enrol one): the app sends the person to GET /session/start.
    const next = await mfa.nextStep(account);
    if (next !== 'none') throw new SecondFactorRequiredError(next);
    return respond(reply, await sessions.open({ accountId: account.id, clientId: client.client_id, scope: sessionScope(client) }));
  });

  // The refresh token is the cookie, never the body: a body is ignored.
  app.post('/refresh', { schema: NO_INPUT }, async (request, reply) => {
    try {
      const token = request.cookies[REFRESH_COOKIE];
      if (!token) throw new RefreshError('NO_REFRESH_TOKEN');
      return await respond(reply, await sessions.refresh(token));
    } catch (err) {
      // The app must sign in again: stale cookies would only make it try again.
      if (err instanceof RefreshError || err instanceof NotFirstPartyError) clearSessionCookies(reply, cookies);
      throw err;
    }
  });

  app.post('/logout', { schema: NO_INPUT }, async (request, reply) => {
    await sessions.logout(request.cookies[REFRESH_COOKIE]);
    clearSessionCookies(reply, cookies);
    return reply.code(204).send();
  });

  await app.register(sessionStartRoutes, { sessions, cookies, config, host: options.host, clients, context: options.context });
}
