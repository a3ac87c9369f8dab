import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type Provider from 'oidc-provider';
import { LOGO_SOURCES } from '../http/brand.ts';
import type { CaptchaWidget } from './captcha.ts';

/** What a captcha widget needs the CSP to allow (per provider, src/security/captcha.ts). */
type CaptchaCsp = CaptchaWidget['csp'];

/**
 * Browser hardening for the pages Fastify renders (ASVS V3.4): a strict CSP with no inline
 * script or style, no framing, HSTS under https, and `Cache-Control: no-store` on every HTML
 * page, JSON answer and redirect (they hold forms, CSRF tokens, account data and tokens).
 *
 * `form-action` is left out on purpose: Chrome applies it to the redirects that follow a form
 * post, and the end of a sign-in is a redirect to the client's own origin.
 */
export async function registerSecurityHeaders(app: FastifyInstance, options: { https: boolean; captcha?: CaptchaCsp }) {
  const headers = Object.entries(await helmetHeaders(options));
  // Set on the raw response, as helmet does: oidc-provider's hijacked responses keep them.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value!);
    done();
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    // Redirects too: their Location carries codes, flow states and return addresses. The one
    // place routes rely on for it (the provider's own responses: hardenProviderResponses).
    if (type.startsWith('text/html') || type.startsWith('application/json') || reply.hasHeader('location')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

/**
 * The headers helmet sets, computed once (issue 9: @fastify/helmet rebuilds its middleware,
 * CSP parsing included, on every request, ~4 % of a token request's CPU). They depend only on
 * the configuration, so helmet itself runs once, on a throwaway app, and what it set is kept:
 * the same library and options, so the same headers byte for byte.
 */
async function helmetHeaders({ https, captcha }: { https: boolean; captcha?: CaptchaCsp }): Promise<OutgoingHttpHeaders> {
  const probe = Fastify();
  let captured: OutgoingHttpHeaders = {};
  await probe.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", ...(captcha?.scriptSrc ?? [])],
        styleSrc: ["'self'", ...(captcha?.styleSrc ?? [])],
        // Logos: the brand's and each client's `logo_uri`, https or loopback (src/http/brand.ts).
        imgSrc: ["'self'", 'data:', ...LOGO_SOURCES],
        fontSrc: ["'self'"],
        connectSrc: ["'self'", ...(captcha?.connectSrc ?? [])],
        frameSrc: captcha?.frameSrc.length ? captcha.frameSrc : ["'none'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        ...(https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    // HSTS only means something over https; on http://localhost it would only confuse.
    strictTransportSecurity: https ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // `same-origin` keeps tokens in our URLs (reset links) from leaking to other sites while
    // browsers still send a real Origin on our own form posts (`no-referrer` makes it "null").
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
  });
  probe.get('/', (_request, reply) => {
    captured = reply.raw.getHeaders();
    return reply.send('');
  });
  await probe.inject('/');
  await probe.close();
  if (!captured['content-security-policy']) throw new Error('security headers: helmet set no Content-Security-Policy');
  return captured;
}

/**
 * The same guarantees for responses oidc-provider writes itself (they bypass Fastify's
 * hooks): no caching of anything but discovery and the JWKS (RFC 6749 §5.1 asks no-store of
 * token responses; userinfo and introspection carry personal data too), no sniffing, no framing.
 */
export function hardenProviderResponses(provider: Provider, { https }: { https: boolean }) {
  provider.use(async (ctx, next) => {
    // Set before the provider runs: its form_post page adds its inline script's hash to an
    // existing CSP rather than replacing it.
    ctx.set('content-security-policy', "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'");
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('x-frame-options', 'DENY');
    ctx.set('referrer-policy', 'same-origin');
    if (https) ctx.set('strict-transport-security', 'max-age=31536000; includeSubDomains');
    await next();
    const cacheable = ctx.path.startsWith('/.well-known/') || ctx.path === '/jwks';
    if (!cacheable) ctx.set('cache-control', 'no-store');
  });
}
