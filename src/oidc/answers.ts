import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type Provider from 'oidc-provider';
import { translate } from '../i18n/locale.ts';

/** oidc-provider reads at most 56 KiB of a request body (lib/shared/selective_body.js). */
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** What a client that hung up leaves behind: its socket is gone, nobody reads an answer. */
const HANG_UP_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);

function isHangUp(err: Error & { code?: string }) {
  return HANG_UP_CODES.has(err.code ?? '') || err.message === 'aborted' || err.message === 'Parse Error' || err.code?.startsWith('HPE_') === true;
}

/**
 * Keeps the provider's answers to what Gatehouse designs (issue 15, finding 7), on responses
 * the provider writes itself:
 * - Koa (which the provider is) prints any error it cannot answer, a client hanging up
 *   mid-body among them, as a bare stack on stderr. A hang-up is nobody's fault worth a line;
 *   anything else goes to `onError` (the JSON log).
 * - A chunked body (no Content-Length, so Fastify cannot refuse it up front as
 *   src/oidc/oidc.routes.ts does) over the provider's limit is a 413, as RFC 9110 §15.5.14
 *   says, not the provider's 400 `invalid_request`.
 * - A path under a provider route that it does not serve (`/token/x`, or a method it does not
 *   take) is our JSON 404, not Koa's plain-text "Not Found".
 */
export function keepAnswersDesigned(provider: Provider, onError: (err: unknown) => void) {
  // Koa's own 'error' event, which oidc-provider's typings leave out.
  (provider as unknown as EventEmitter).on('error', (err: Error & { status?: number; expose?: boolean }) => {
    if (isHangUp(err) || err.expose || err.status === 404) return;
    onError(err);
  });

  provider.use(async (ctx, next) => {
    // Only a body without a length is counted as it is read (most requests have no body at all).
    const overLimit = ctx.get('content-length') === '' && ctx.get('transfer-encoding') !== '' && countChunked(ctx.req);
    await next();
    if (overLimit && overLimit()) {
      ctx.status = 413;
      ctx.body = { error: 'PAYLOAD_TOO_LARGE', message: translate('error.payload_too_large') };
    } else if (ctx.status === 404 && ctx.body == null) {
      ctx.status = 404;
      ctx.body = { error: 'NOT_FOUND', message: translate('error.not_found') };
    }
  });
}

/**
 * Counts the bytes the provider reads of a body that has no Content-Length (it reads with
 * `req.iterator`, lib/shared/selective_body.js), and says whether it went over the limit.
 */
function countChunked(req: IncomingMessage): () => boolean {
  let received = 0;
  const iterator = req.iterator.bind(req);
  req.iterator = (options) => {
    const inner = iterator(options);
    return (async function* () {
      for await (const chunk of inner) {
        received += (chunk as Buffer).length;
        yield chunk;
      }
    })() as ReturnType<typeof iterator>;
  };
  return () => received > PROVIDER_BODY_LIMIT;
}
