import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { OidcHost } from './host.ts';
import { AppError } from '../errors.ts';
import { RETRY_AFTER_SECONDS } from '../http/errors.ts';
import { PROVIDER_BODY_LIMIT } from './answers.ts';
import { OIDC_ROUTES } from './provider.ts';
import { createDocumentCache } from './documents.ts';
import { translate } from '../i18n/locale.ts';

/** Endpoints that take a form POST as the same request as a GET (see below). */
const POST_AS_GET = new Set<string>([OIDC_ROUTES.authorization, OIDC_ROUTES.end_session]);
/** Routes a browser navigates to: failures there are pages. The rest are JSON APIs. */
const BROWSER_ROUTES = new Set<string>([OIDC_ROUTES.authorization, `${OIDC_ROUTES.authorization}/*`, OIDC_ROUTES.end_session, `${OIDC_ROUTES.end_session}/*`]);

/**
 * Forwards the provider's own routes, and only those, to its Koa app. The provider reads
 * request bodies itself, so this scope has no body parser: Fastify leaves the stream alone.
 * Responses are written by the provider straight to the socket (reply.hijack), so Fastify
 * hooks do not see them; headers it must carry are set by provider middleware instead.
 *
 * No route schemas on the provider's routes (issue 8): oidc-provider validates its own
 * parameters and answers a bad one the way each spec says (RFC 6749 §4.1.2.1 and §5.2, OIDC
 * Core §3.1.2.6: a redirect with `error=` or an `invalid_request` JSON body). A Fastify 400
 * before it would change those answers. Only the form-POST-as-GET routes below are Gatehouse's.
 */
export async function oidcRoutes(app: FastifyInstance, { host }: { host: OidcHost }) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const documents = createDocumentCache(host);
  const forward = (request: FastifyRequest, reply: FastifyReply) => {
    // RFC 9110 §15.5.14: a body over what the provider reads is a 413; the provider itself
    // would read it and answer 400 `invalid_request`. A chunked body is counted as the provider
    // reads it (src/oidc/answers.ts).
    if (Number(request.headers['content-length']) > PROVIDER_BODY_LIMIT) throw new AppError('PAYLOAD_TOO_LARGE', 413, translate('error.payload_too_large'));
    reply.hijack();
    if (documents.answer(request.raw, reply.raw, request.routeOptions.url)) return;
    // RFC 9110 §10.2.3: a 503 says when to come back; the provider's own
    // `temporarily_unavailable` (src/oidc/adapters/types.ts) carries none.
    const writeHead = reply.raw.writeHead;
    reply.raw.writeHead = function (this: typeof reply.raw, status: number, ...rest: unknown[]) {
      if (status === 503 && !this.hasHeader('retry-after')) this.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
      return (writeHead as (...a: unknown[]) => typeof reply.raw).call(this, status, ...rest);
    } as typeof writeHead;
    host.callback(request.raw, reply.raw);
  };

  const paths = new Set<string>(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
  for (const path of Object.values(OIDC_ROUTES)) {
    paths.add(path);
    paths.add(`${path}/*`);
  }
  for (const url of paths) {
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'].filter((m) => !(m === 'POST' && POST_AS_GET.has(url)));
    // Our error handler answers the provider's way on these routes (src/http/errors.ts).
    const config = { oauth: BROWSER_ROUTES.has(url) ? ('page' as const) : ('api' as const) };
    app.route({ method: methods, url, handler: forward, exposeHeadRoute: false, config });
  }

  // OIDC Core §3.1.2.1 and RP-Initiated Logout §2: the authorization and end-session endpoints
  // take POST (form-encoded) as well as GET. oidc-provider offers POST only with the session
  // cookie at SameSite=None (a cross-site POST carries no Lax cookie), which would weaken the
  // cookie everywhere and break plain-http development. Instead the form becomes the same
  // request as GET: a 303 carries the parameters to the GET endpoint, a top-level navigation
  // that SameSite=Lax cookies go with.
  await app.register(async (post) => {
    post.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 32 * 1024 }, (_req, body, done) => done(null, body));
    // The form, unparsed (the provider reads its parameters at the GET endpoint); none without a form content type.
    const schema = { body: z.string().nullish() };
    for (const url of POST_AS_GET) {
      post.post<{ Body: string | null | undefined }>(url, { schema, config: { oauth: 'page' as const } }, async (request, reply) => {
        const params = new URLSearchParams(request.body ?? '');
        return reply.redirect(`${url}?${params}`, 303);
      });
    }
  });
}
