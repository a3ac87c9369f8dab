import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_LOCALE, firstSupported, fromAcceptLanguage, isLocale, LOCALES, runInLocale, type Locale } from '../i18n/locale.ts';
import { queryText } from './schemas.ts';

/** The cookie the language switcher sets (CONTRACT "Languages"). */
export const LANG_COOKIE = 'lang';
const YEAR_SECONDS = 365 * 24 * 3600;

/** The names the switcher shows, each in its own language. */
const LANGUAGE_NAMES: Record<Locale, string> = { en: 'English', vi: 'Tiếng Việt' };

// The path the switcher comes back to, per request (the layout has no request to read it from).
const pathStorage = new AsyncLocalStorage<string>();

/** Reads one cookie from the raw header: this hook runs before @fastify/cookie's parses them. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  const found = header?.split(';').map((c) => c.trim().split('=')).find(([k]) => k === name);
  return found ? decodeURIComponent(found[1] ?? '') : undefined;
}

/**
 * The request's language: the `lang` cookie (the switcher), else `Accept-Language`, else
 * English. `ui_locales` beats both but lives on the authorization request: oidc-provider's
 * authorization endpoint and the interaction pages raise it with setLocale (src/pages/interaction.ts).
 */
export function negotiate(headers: { cookie?: string; 'accept-language'?: string | string[] }): Locale {
  const cookie = cookieValue(headers.cookie, LANG_COOKIE);
  if (isLocale(cookie)) return cookie;
  return fromAcceptLanguage([headers['accept-language']].flat().join(',')) ?? DEFAULT_LOCALE;
}

/** A same-origin path to return to, or `/account`: never another site (no open redirect). */
export function safeReturnPath(value: unknown): string {
  // One leading slash, then not a second slash or a backslash (`//evil`, `/\evil` are other hosts).
  if (typeof value !== 'string' || !/^\/(?![/\\])/.test(value) || /[\u0000-\u001f\\]/.test(value)) return '/account';
  return value;
}

/** The switcher's links for the layout (views/partials/languages.hbs). */
export function languageLinks(current: Locale) {
  const back = encodeURIComponent(pathStorage.getStore() ?? '/account');
  return LOCALES.map((code) => ({ code, name: LANGUAGE_NAMES[code], current: code === current, href: `/lang?to=${code}&return=${back}` }));
}

/** Picks each request's language and serves the switcher (`GET /lang?to=vi&return=/path`). */
export function registerLanguage(scope: FastifyInstance, { product }: { product?: string } = {}) {
  // A callback hook, so that the rest of the request runs inside the stores' run().
  scope.addHook('onRequest', (request, _reply, done) => {
    // The provider's JSON endpoints (token, introspection, JWKS...) answer in no language: their
    // errors are OAuth codes and English descriptions for developers. Skipping them saves the
    // context of every token request (issue 9).
    if ((request.routeOptions.config as { oauth?: string } | undefined)?.oauth === 'api') return done();
    const path = request.method === 'GET' ? request.url : (request.headers.referer ? refererPath(request.headers.referer, request.host) : undefined);
    pathStorage.run(safeReturnPath(path), () => runInLocale(negotiate(request.headers), done, product));
  });

  const app = scope.withTypeProvider<ZodTypeProvider>();
  const schema = { querystring: z.looseObject({ to: queryText.optional(), return: queryText.optional() }) };
  app.get('/lang', { schema }, async (request, reply) => {
    const to = firstSupported(request.query.to);
    if (to) {
      const secure = request.protocol === 'https' ? '; Secure' : '';
      // Not HttpOnly: a preference, not a secret. SameSite=Lax: sent on the top-level navigations that open a page.
      reply.header('set-cookie', `${LANG_COOKIE}=${to}; Path=/; Max-Age=${YEAR_SECONDS}; SameSite=Lax${secure}`);
    }
    return reply.redirect(safeReturnPath(request.query.return), 303);
  });
}

/** The path of a same-origin Referer (a form posted back with errors returns to the page it came from). */
function refererPath(referer: string, host: string): string | undefined {
  try {
    const url = new URL(referer);
    return url.host === host ? `${url.pathname}${url.search}` : undefined;
  } catch {
    return undefined;
  }
}
