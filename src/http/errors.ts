import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { AppError, isDependencyDown, TooManyAttemptsError } from '../errors.ts';
import { createOutageLog } from '../ops/outage-log.ts';
import { CsrfError } from '../security/csrf.ts';
import { translate } from './views.ts';

/** Seconds a client is told to wait before retrying when a store is down (RFC 9110 §10.2.3). */
export const RETRY_AFTER_SECONDS = 5;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the provider's routes: `api` answers JSON to everyone, `page` is a browser's. */
    oauth?: 'api' | 'page';
  }
}

/** The provider's routes mark themselves `api` (JSON for everyone) or `page` (src/oidc/oidc.routes.ts). */
function oauthRoute(request: FastifyRequest): 'api' | 'page' | undefined {
  return request.routeOptions?.config?.oauth;
}

/** Requests a person makes with a browser get HTML errors; API callers get JSON. */
export function wantsHtml(request: FastifyRequest) {
  if (oauthRoute(request) === 'api') return false;
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') && !request.url.startsWith('/admin/api') && !request.url.startsWith('/session');
}

// A headline a person understands, per status; the code (NOT_FOUND...) is for programs, never shown.
const HEADLINES: Record<number, string> = {
  400: 'error.title_400',
  403: 'error.title_403',
  404: 'error.title_404',
  405: 'error.title_400',
  413: 'error.title_400',
  415: 'error.title_400',
  429: 'error.title_429',
  503: 'error.title_503',
};

/**
 * The error page's data: a friendly headline, what happened, and a reference: the request id,
 * which every log line of the request carries (`reqId`), so support can find it from a screenshot.
 */
export function errorView(status: number, message: string, reference?: string, extra: Record<string, unknown> = {}) {
  const headline = translate(HEADLINES[status] ?? 'error.title');
  return { title: headline, headline, message, reference, notFound: status === 404, ...extra };
}

/** One error answer: the error page for a browser, `{ error, message, fields? }` for an API. */
export async function sendError(reply: FastifyReply, request: FastifyRequest, status: number, code: string, message: string, fields?: Record<string, string>) {
  reply.code(status).header('cache-control', 'no-store');
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  if (wantsHtml(request)) return reply.view('error', errorView(status, message, request.id, retryView(reply)));
  // RFC 6749 §5.2 / §4.1.2.1: OAuth endpoints say "a store is down" the OAuth way, as the
  // provider's own storage wrapper does (src/oidc/adapters/types.ts).
  if (status === 503 && oauthRoute(request) === 'api') return reply.send({ error: 'temporarily_unavailable', error_description: message });
  return reply.send({ error: code, message, ...(fields ? { fields } : {}) });
}

/** When to try again, for a 429 that said (Retry-After, seconds): the page says the time, not only "later". */
function retryView(reply: FastifyReply): Record<string, unknown> {
  const after = Number(reply.getHeader('retry-after'));
  if (reply.statusCode !== 429 || !Number.isFinite(after) || after <= 0) return {};
  const at = new Date(Date.now() + after * 1000);
  return { retryAt: at.toISOString(), retryAtText: `${at.toISOString().slice(11, 16)} UTC` };
}

/** Fastify's own 4xx codes (FST_ERR_*) are not ours to publish: the documented code for each status. */
const CODE_BY_STATUS: Record<number, string> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};
export function publicCode(status: number, code: string | undefined) {
  if (code && !code.startsWith('FST_') && /^[A-Z][A-Z0-9_]*$/.test(code)) return code;
  return CODE_BY_STATUS[status] ?? 'BAD_REQUEST';
}

/**
 * A request the client gave up on (it closed the connection mid-body): Node fails the body
 * stream with ECONNRESET "aborted". That is the client's doing, not Postgres or Redis going
 * away, whose errors also say ECONNRESET but come from their own sockets.
 */
export function isClientAbort(err: Error & { code?: string }, request: FastifyRequest) {
  return err.code === 'ECONNRESET' && (err.message === 'aborted' || request.raw.readableAborted === true);
}

/** Headers every answer carries, also those written before Fastify sees a request. */
const BARE_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** For an error page written outside the routes: its stylesheet and images are our own. */
const PAGE_CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/**
 * Node's HTTP parser refuses a request (bad syntax, headers over the limit, a slow client) before
 * Fastify has a request to run hooks for: Fastify's default answer has no security headers and
 * its own error words. Ours has both right.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket) {
  if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'The request headers are too large.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive.']
        : [400, 'BAD_REQUEST', 'The request could not be read.'];
  const body = JSON.stringify({ error: code, message });
  const head = Object.entries({ ...BARE_SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${code}\r\n${head}\r\n${body}`);
}

/**
 * Fastify's `frameworkErrors`: a URL it cannot decode (`/%E0%A4%A`) is refused before routing,
 * so no hook runs and Fastify's default answer has no security headers and its own code
 * (`FST_ERR_BAD_URL`). Ours: a 400 in our words, an error page to a browser, and the headers.
 */
export async function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 400;
  const code = publicCode(status, err.code);
  const message = 'The request address could not be read.';
  reply.headers(BARE_SECURITY_HEADERS).code(status);
  // No route, so no reply.view: the instance renders the page (src/http/views.ts).
  const render = (request.server as FastifyInstance & { view?: (name: string, data: object) => Promise<string> }).view;
  if (wantsHtml(request) && render) {
    const html = await render.call(request.server, 'error', errorView(status, message, request.id)).catch(() => undefined);
    // The page's own stylesheet is ours: a CSP that lets it load, and nothing else.
    if (html !== undefined) return reply.header('content-security-policy', PAGE_CSP).type('text/html; charset=utf-8').send(html);
  }
  return reply.type('application/json; charset=utf-8').send(JSON.stringify({ error: code, message }));
}

/**
 * The one error handler (and the 404): our AppErrors with their code and status, a storage
 * outage as 503, Fastify's own 4xx in plain words, anything else a logged 500 that shows no
 * detail. Call before any plugin is registered: child contexts take the handlers they see then.
 */
export function registerErrorHandlers(app: FastifyInstance) {
  const outages = createOutageLog(app.log);
  app.server.removeAllListeners('clientError');
  app.server.on('clientError', answerClientError);
  // oidc-provider's error pages (src/oidc/provider.ts) are written from the raw request: they read the id there.
  app.addHook('onRequest', (request, _reply, done) => {
    (request.raw as typeof request.raw & { requestId?: string }).requestId = request.id;
    done();
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, request, 404, 'NOT_FOUND', translate('error.not_found')));
  app.setErrorHandler((err: FastifyError, request, reply) => {
    // @fastify/csrf-protection replies with its own errors: say it in our words.
    if (err.code?.startsWith('FST_CSRF_')) err = new CsrfError() as unknown as FastifyError;
    if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds));
    if (err instanceof AppError) return sendError(reply, request, err.statusCode, err.code, err.message, err.fields);
    if (isClientAbort(err, request)) {
      // Nobody is listening for an answer; not an outage, and nothing to alert on.
      request.log.info('the client closed the connection before the request was read');
      return sendError(reply, request, 400, 'BAD_REQUEST', translate('error.not_completed'));
    }
    if (isDependencyDown(err)) {
      outages.failure(err);
      return sendError(reply, request, 503, 'SERVICE_UNAVAILABLE', translate('error.unavailable'));
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      // Fastify's own 4xx (bad JSON, body too large, wrong content type): say what, not how.
      return sendError(reply, request, status, publicCode(status, err.code), err.message);
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, request, 500, 'INTERNAL_ERROR', translate('error.internal'));
  });
}
