import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OidcHost } from './host.ts';

/**
 * The discovery document and the JWKS, answered from memory (issue 9: "nothing per-request
 * that can be done once"). oidc-provider builds both anew for every request, through its whole
 * Koa stack, although they change only when the provider does (keys rotated: src/oidc/host.ts
 * builds a new one). So the first request of each kind is answered by the provider as before,
 * its answer (status 200, headers and body) is kept, and the next ones get the same bytes,
 * until the provider is replaced.
 *
 * What the provider's answer depends on is the key: the path and query, and the issuer-relative
 * URLs it builds from the request's protocol and host. A request with an `Origin` (a browser's
 * cross-origin fetch, whose CORS headers depend on it) or any other method always goes to the
 * provider. At most MAX_ENTRIES answers are kept (Host is the client's to choose).
 */
export const CACHED_DOCUMENTS = new Set(['/jwks', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
const MAX_ENTRIES = 32;

interface Kept {
  provider: unknown;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export function createDocumentCache(host: OidcHost) {
  const kept = new Map<string, Kept>();

  /** Keeps the provider's answer to this request if it is a whole 200 with a body. */
  function capture(key: string, res: ServerResponse) {
    const provider = host.provider;
    const end = res.end;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (this.statusCode === 200 && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        if (kept.size >= MAX_ENTRIES) kept.delete(kept.keys().next().value!);
        kept.set(key, { provider, headers: { ...this.getHeaders() }, body: Buffer.from(chunk) });
      }
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as typeof res.end;
  }

  return {
    /**
     * Answers `req` from memory and returns true, or returns false after arranging to keep the
     * provider's answer (the caller then forwards it to the provider).
     */
    answer(req: IncomingMessage, res: ServerResponse, route: string | undefined): boolean {
      if (req.method !== 'GET' || req.headers.origin !== undefined || !CACHED_DOCUMENTS.has(route ?? '')) return false;
      // Whatever the provider may build URLs from (it trusts X-Forwarded-* like Fastify does).
      const { host: h, 'x-forwarded-host': fh, 'x-forwarded-proto': fp } = req.headers;
      const key = JSON.stringify([fp, fh, h, req.url]);
      const hit = kept.get(key);
      if (hit && hit.provider === host.provider) {
        // The headers other hooks set on this response (security headers) come first, as the provider's would.
        res.writeHead(200, { ...res.getHeaders(), ...hit.headers, 'content-length': hit.body.length });
        res.end(hit.body);
        return true;
      }
      capture(key, res);
      return false;
    },
  };
}
