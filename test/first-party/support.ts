import { Browser, type Page } from '../helpers/browser.ts';
import type { TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';

/** One Set-Cookie line: its value and attributes, names lower-cased. */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

export function setCookies(headers: Headers): Map<string, SetCookie> {
  const out = new Map<string, SetCookie>();
  for (const line of headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';');
    const i = pair!.indexOf('=');
    const attributes: Record<string, string | true> = {};
    for (const a of attrs) {
      const j = a.indexOf('=');
      if (j < 0) attributes[a.trim().toLowerCase()] = true;
      else attributes[a.slice(0, j).trim().toLowerCase()] = a.slice(j + 1).trim();
    }
    out.set(pair!.slice(0, i).trim(), { name: pair!.slice(0, i).trim(), value: pair!.slice(i + 1).trim(), attributes });
  }
  return out;
}

/** The client's first registered redirect URI: where its pages live, what return_to names. */
export function appUrl(client: ClientMetadata): string {
  return (client.redirect_uris as string[])[0]!;
}

/**
 * Signs in through `/session/start` the way a person does: Gatehouse's login form, then the
 * redirect back to `return_to` (not followed: the app is not running). Fails if a consent
 * page shows up, since first-party clients never ask.
 */
export async function signIn(server: TestServer, client: ClientMetadata, user: { email: string; password: string }, browser = new Browser()) {
  const returnTo = appUrl(client);
  const start = `${server.url}/session/start?${new URLSearchParams({ client_id: client.client_id, return_to: returnTo })}`;
  const atApp = (u: string) => u.startsWith(returnTo);
  const loginPage = await browser.follow(start, {}, atApp);
  if (loginPage.status !== 200 || !loginPage.body.includes('name="password"')) {
    throw new Error(`expected the login page, got ${loginPage.status}: ${loginPage.body.slice(0, 300)}`);
  }
  const landed: Page = await browser.submit(loginPage, { login: user.email, password: user.password }, { field: 'login', stopAt: atApp });
  if (landed.url !== returnTo) throw new Error(`expected to land on ${returnTo}, got ${landed.status} ${landed.url}: ${landed.body.slice(0, 300)}`);
  return { browser, landed, loginPage };
}

/** A request as a page of `origin` makes it with fetch(..., { credentials: 'include' }). */
export async function call(
  server: TestServer,
  path: string,
  { method = 'GET', origin, cookies, body }: { method?: string; origin?: string; cookies?: Record<string, string>; body?: unknown } = {},
) {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (origin) headers.origin = origin;
  if (cookies) headers.cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join('; ');
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, cookies: setCookies(res.headers) };
}
