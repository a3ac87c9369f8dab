import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryText } from '../http/schemas.ts';
import { AppError } from '../errors.ts';
import { translate } from '../http/views.ts';
import { randomToken } from '../crypto/secret-box.ts';
import { registeredRedirectUris } from './client-metadata.ts';
import { firstPartyClient } from './first-party-client.ts';
import { authorizationUrl, EXCHANGE_AUTH_METHODS, exchangeCode, sessionScope, type TokenResponse } from './code-flow.ts';
import type { FirstPartyDeps } from './context.ts';
import { FLOW_COOKIE_PREFIX, setSessionCookies, type CookieOptions } from './cookies.ts';
import { LoginFlowError, ReturnToError, UnsupportedClientError } from './errors.ts';
import { verifyAccessToken } from './resource-server.ts';
import type { Sessions } from './sessions.service.ts';

interface Flow {
  clientId: string;
  returnTo: string;
  verifier: string;
}

type StartOptions = Pick<FirstPartyDeps, 'config' | 'host' | 'clients' | 'context'> & { sessions: Sessions; cookies: CookieOptions };

const STATE_RE = /^[A-Za-z0-9_-]{16,64}$/;

// Absent values are the handlers' to refuse, with the error page each one has always given.
const startSchema = { querystring: z.looseObject({ client_id: queryText.optional(), return_to: queryText.optional() }) };
/** RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207 `iss`: what the provider sends back (others ignored). */
const callbackSchema = {
  querystring: z.looseObject({ state: queryText.optional(), code: queryText.optional(), error: queryText.optional(), iss: queryText.optional() }),
};

/**
 * `GET /session/start` and its callback: the hosted login for a first-party app, as a code
 * flow against Gatehouse itself. The flow's state lives in a signed cookie named by `state`
 * and scoped to the callback: only the browser that started the sign-in can finish it (the
 * login-CSRF defence of RFC 9700 §4.7), and nothing is stored server-side for abandoned ones.
 *
 * These are pages, not API: every failure is an error page, and nothing ever redirects to a
 * `return_to` that is not exactly one of the client's registered redirect URIs.
 */
export async function sessionStartRoutes(scope: FastifyInstance, { sessions, cookies, config, host, clients, context }: StartOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const { keys } = context;
  const { issuer } = config;

  function errorPage(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    const known = err instanceof AppError && err.statusCode < 500;
    if (!known) request.log.error({ err }, 'first-party sign-in failed');
    return reply
      .code(known ? err.statusCode : 500)
      .view('session-error', {
        title: translate('session.error.title'),
        code: known ? err.code : 'INTERNAL_ERROR',
        reference: request.id,
        message: known ? err.message : translate('error.internal'),
        returnTo: err instanceof LoginFlowError ? err.returnTo : undefined,
      });
  }

  function readFlow(request: FastifyRequest, state: string | undefined): Flow | undefined {
    if (state === undefined || !STATE_RE.test(state)) return undefined;
    const raw = request.cookies[`${FLOW_COOKIE_PREFIX}${state}`];
    const unsigned = raw ? request.unsignCookie(raw) : undefined;
    if (!unsigned?.valid || !unsigned.value) return undefined;
    try {
      const flow = JSON.parse(unsigned.value) as Partial<Flow>;
      if (typeof flow.clientId === 'string' && typeof flow.returnTo === 'string' && typeof flow.verifier === 'string') return flow as Flow;
    } catch {
      // a cookie we did not write
    }
    return undefined;
  }

  // A schema failure is an error page too (the route's error handler).
  app.get('/start', { schema: startSchema, errorHandler: errorPage }, async (request, reply) => {
    const client = await firstPartyClient(clients, request.query.client_id);
    const returnTo = request.query.return_to;
    if (returnTo === undefined || !registeredRedirectUris(client).includes(returnTo)) throw new ReturnToError();
    const grantTypes = Array.isArray(client.grant_types) ? client.grant_types : ['authorization_code'];
    if (!grantTypes.includes('authorization_code') || !EXCHANGE_AUTH_METHODS.includes(String(client.token_endpoint_auth_method ?? 'client_secret_basic'))) {
      throw new UnsupportedClientError();
    }
    const state = randomToken(24);
    const flow: Flow = { clientId: client.client_id, returnTo, verifier: randomToken(32) };
    reply.setCookie(`${FLOW_COOKIE_PREFIX}${state}`, JSON.stringify(flow), { ...cookies.flow, maxAge: config.firstParty.loginFlowSeconds });
    return reply.redirect(authorizationUrl({ issuer, client, state, verifier: flow.verifier }), 303);
  });

  app.get('/callback', { schema: callbackSchema, errorHandler: errorPage }, async (request, reply) => {
    const { state, code, error, iss } = request.query;
    const flow = readFlow(request, state);
    if (!flow) throw new LoginFlowError('LOGIN_FLOW_EXPIRED');
    reply.clearCookie(`${FLOW_COOKIE_PREFIX}${state!}`, cookies.flow);
    // `error`: the person cancelled, or the provider refused. `iss`: RFC 9207, the answer is ours.
    if (error !== undefined || iss !== issuer || code === undefined) throw new LoginFlowError('LOGIN_FAILED', flow.returnTo);
    const client = await firstPartyClient(clients, flow.clientId);

    // The provider's session and grant behind this code: signing out of the app ends them too.
    const issued = await host.provider.AuthorizationCode.find(code);
    let tokens: TokenResponse;
    try {
      // As the person's own address: the token endpoint's rate limit counts per client IP, and
      // an injected request would otherwise put every sign-in in the one bucket of 127.0.0.1.
      tokens = await exchangeCode((req) => app.inject({ ...req, remoteAddress: request.ip }), { issuer, client, code, verifier: flow.verifier });
    } catch (err) {
      request.log.warn({ reason: (err as Error).message }, 'first-party code exchange failed');
      throw new LoginFlowError('LOGIN_FAILED', flow.returnTo);
    }
    const claims = await verifyAccessToken(tokens.access_token, keys.verificationKey, { issuer, audience: client.client_id });
    // Our own refresh token replaces the provider's: leave none of its behind.
    if (tokens.refresh_token) await (await host.provider.RefreshToken.find(tokens.refresh_token))?.destroy();

    const session = await sessions.open(
      {
        accountId: claims.sub,
        clientId: client.client_id,
        scope: tokens.scope ?? claims.scope ?? sessionScope(client),
        oidcSessionUid: issued?.sessionUid ?? null,
        oidcGrantId: issued?.grantId ?? null,
      },
      { token: tokens.access_token, expiresAt: claims.exp },
    );
    setSessionCookies(reply, cookies, session);
    return reply.redirect(flow.returnTo, 303);
  });
}
