import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isDependencyDown } from '../errors.ts';
import { CsrfError } from '../security/csrf.ts';
import { translate } from './views.ts';

/** Requests a person makes with a browser get HTML errors; API callers get JSON. */
export function wantsHtml(request: FastifyRequest) {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') && !request.url.startsWith('/admin/api') && !request.url.startsWith('/session');
}

/** One error answer: the error page for a browser, `{ error, message, fields? }` for an API. */
export async function sendError(reply: FastifyReply, request: FastifyRequest, status: number, code: string, message: string, fields?: Record<string, string>) {
  reply.code(status).header('cache-control', 'no-store');
  if (wantsHtml(request)) return reply.view('error', { title: translate('error.title'), code, message });
  return reply.send({ error: code, message, ...(fields ? { fields } : {}) });
}

/**
 * The one error handler (and the 404): our AppErrors with their code and status, a storage
 * outage as 503, Fastify's own 4xx in plain words, anything else a logged 500 that shows no
 * detail. Call before any plugin is registered: child contexts take the handlers they see then.
 */
export function registerErrorHandlers(app: FastifyInstance) {
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
}
