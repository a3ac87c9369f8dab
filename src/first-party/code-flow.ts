import { createHash } from 'node:crypto';
import { OIDC_ROUTES } from '../oidc/provider.ts';
import type { ClientMetadata } from '../oidc/clients.repo.ts';
import { sessionCallbackUri } from './client-metadata.ts';

/**
 * `/session/start` signs in through Gatehouse's own authorization endpoint, as any RP would
 * (authorization code + PKCE, RFC 9700 §2.1.1), so the hosted login, its SSO session and
 * every rule of the provider apply unchanged. The access token is asked for the client's own
 * resource (RFC 8707), which makes it an RFC 9068 JWT with the client as audience.
 */

/** The OIDC scopes a first-party session needs: who the user is, e-mail and name (GET /session). */
const SESSION_SCOPES = ['openid', 'email', 'profile'];

/** The session scopes the client may have (its `scope` metadata limits them). */
export function sessionScope(client: ClientMetadata): string {
  const allowed = typeof client.scope === 'string' ? new Set(client.scope.split(' ')) : undefined;
  return SESSION_SCOPES.filter((s) => !allowed || allowed.has(s)).join(' ');
}

export function resourceOf(issuer: string, clientId: string): string {
  return `${issuer}/clients/${clientId}`;
}

export function authorizationUrl({ issuer, client, state, verifier }: { issuer: string; client: ClientMetadata; state: string; verifier: string }): string {
  const url = new URL(`${issuer}${OIDC_ROUTES.authorization}`);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    response_type: 'code',
    redirect_uri: sessionCallbackUri(issuer),
    scope: sessionScope(client),
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource: resourceOf(issuer, client.client_id),
  }).toString();
  return url.toString();
}

/** How the code is exchanged: in-process (Fastify's `inject`), never through the network to ISSUER. */
export type Inject = (request: { method: 'POST'; url: string; headers: Record<string, string>; payload: string }) => Promise<{ statusCode: number; body: string }>;

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
}

/** Client authentication the exchange can do with what the clients table holds. */
export const EXCHANGE_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'];

/** RFC 6749 §2.3.1: id and secret are form-encoded before they are joined for Basic. */
function basic(id: string, secret: string) {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** The token request of the code flow; throws with the provider's `error` code when refused. */
export async function exchangeCode(
  inject: Inject,
  { issuer, client, code, verifier }: { issuer: string; client: ClientMetadata; code: string; verifier: string },
): Promise<TokenResponse> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: sessionCallbackUri(issuer),
    code_verifier: verifier,
    resource: resourceOf(issuer, client.client_id),
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const method = String(client.token_endpoint_auth_method ?? 'client_secret_basic');
  if (method === 'client_secret_basic') headers.authorization = basic(client.client_id, client.client_secret ?? '');
  else {
    form.set('client_id', client.client_id);
    if (method === 'client_secret_post') form.set('client_secret', client.client_secret ?? '');
  }
  const res = await inject({ method: 'POST', url: OIDC_ROUTES.token, headers, payload: form.toString() });
  const body = JSON.parse(res.body) as Partial<TokenResponse> & { error?: string };
  if (res.statusCode !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`token endpoint refused the code: ${body.error ?? res.statusCode}`);
  }
  return body as TokenResponse;
}
