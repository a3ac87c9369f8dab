import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OidcHost } from './host.ts';
import { OIDC_ROUTES } from './provider.ts';

/**
 * Forwards the provider's own routes, and only those, to its Koa app. The provider reads
 * request bodies itself, so this scope has no body parser: Fastify leaves the stream alone.
 * Responses are written by the provider straight to the socket (reply.hijack), so Fastify
 * hooks do not see them; headers it must carry are set by provider middleware instead.
 */
export async function oidcRoutes(app: FastifyInstance, { host }: { host: OidcHost }) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const forward = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    host.callback(request.raw, reply.raw);
  };

  const paths = new Set<string>(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
  for (const path of Object.values(OIDC_ROUTES)) {
    paths.add(path);
    paths.add(`${path}/*`);
  }
  for (const url of paths) {
    app.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'], url, handler: forward, exposeHeadRoute: false });
  }
}
