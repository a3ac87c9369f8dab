import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { registerClient, type NewClient } from '../../src/oidc/clients.service.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser, type Page } from './browser.ts';
import type { TestServer } from './server.ts';

export const PASSWORD = 'correct horse battery staple';

export interface TestUser {
  id: string;
  email: string;
  password: string;
}

export async function createUser(server: TestServer, over: { email?: string; password?: string; name?: string; username?: string; verified?: boolean; roles?: string[] } = {}): Promise<TestUser> {
  const email = over.email ?? `user-${randomBytes(4).toString('hex')}@example.com`;
  const password = over.password ?? PASSWORD;
  const account = await server.services.accounts.create({
    email,
    password,
    name: over.name ?? 'Test User',
    username: over.username,
    verified: over.verified ?? true,
    roles: over.roles,
  });
  return { id: account.id, email, password };
}

export async function createClient(server: TestServer, over: Partial<NewClient> = {}): Promise<ClientMetadata> {
  return registerClient(
    { clients: server.services.clients, provider: server.services.host.provider },
    { name: 'Test App', redirectUris: ['http://127.0.0.1:9/callback'], ...over },
  );
}

/** An openid-client configuration for `client` against `server` (plain http on loopback). */
export async function rpConfig(server: TestServer, client: ClientMetadata) {
  return oidc.discovery(
    new URL(server.url),
    client.client_id,
    { redirect_uris: client.redirect_uris as string[], ...(client.client_secret ? { client_secret: client.client_secret } : {}) },
    client.client_secret ? undefined : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

export interface AuthorizationResult {
  callbackUrl: URL;
  verifier: string;
  state: string;
  browser: Browser;
  loginPage: Page;
}

/**
 * Runs the authorization request through the hosted login page as a user would: open the
 * authorization URL, fill in the login form, and allow on the consent page when asked.
 */
export async function authorize(
  server: TestServer,
  config: oidc.Configuration,
  user: { email: string; password: string },
  { scope = 'openid email profile', browser = new Browser(), extra = {} as Record<string, string>, method = 'GET' as 'GET' | 'POST' } = {},
): Promise<AuthorizationResult> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const redirectUri = (config.clientMetadata().redirect_uris as string[] | undefined)?.[0] ?? 'http://127.0.0.1:9/callback';
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  const atCallback = (u: string) => u.startsWith(redirectUri);
  // OIDC Core §3.1.2.1: the same request as a form POST when asked.
  const loginPage =
    method === 'POST'
      ? await browser.follow(`${url.origin}${url.pathname}`, { form: Object.fromEntries(url.searchParams) }, atCallback)
      : await browser.follow(url.toString(), {}, atCallback);
  if (loginPage.status !== 200) throw new Error(`expected the login page, got ${loginPage.status}: ${loginPage.body.slice(0, 300)}`);
  let page = await browser.submit(loginPage, { login: user.email, password: user.password }, { field: 'login', stopAt: atCallback });
  // Signing in as someone else than the browser's current user first asks to sign that user
  // out (oidc-provider's end-session confirmation); then a third-party client asks for consent.
  for (let step = 0; step < 3 && !atCallback(page.url); step++) {
    if (page.body.includes('/logout/confirm')) page = await browser.submit(page, { logout: 'yes' }, { stopAt: atCallback });
    else if (/\/interaction\/[^"]+\/confirm/.test(page.body)) page = await browser.submit(page, {}, { stopAt: atCallback });
  }
  if (!atCallback(page.url)) throw new Error(`expected a redirect to the client, got ${page.status} ${page.url}: ${page.body.slice(0, 1500)}`);
  return { callbackUrl: new URL(page.url), verifier, state, browser, loginPage };
}
