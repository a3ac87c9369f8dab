import { randomBytes } from 'node:crypto';
import { createPublicKey } from 'node:crypto';

/**
 * The one set of rules a client's metadata must meet, whoever registers it: the CLI, the
 * admin API, the console, or the client itself through dynamic registration (RFC 7591).
 * oidc-provider checks the syntax of each field; these are Gatehouse's policy on top of it.
 * Plain and synchronous (oidc-provider's metadata validator must be), no I/O.
 */

/** RFC 7591 §2 `token_endpoint_auth_method` values Gatehouse accepts. */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'] as const;

/** The longest `client_description` kept (it is shown on consent pages). */
export const MAX_DESCRIPTION_LENGTH = 1000;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * What is wrong with a URI an authorization server redirects to or calls, or undefined.
 * `issuer`: Gatehouse's own origin is as trusted as the issuer itself (its built-in client
 * comes back to `ISSUER/account`, http in development).
 */
export function uriProblem(value: unknown, issuer?: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string';
  if (value.length > 2000) return 'must be at most 2000 characters';
  if (value.includes('*')) return 'must not contain a wildcard';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  // RFC 6749 §3.1.2: the endpoint URI must not include a fragment component.
  if (value.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain a user name or password';
  // RFC 9700 §4.1.1 / RFC 8252 §7.3: https, except the loopback interface of a native app.
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (issuer && url.origin === new URL(issuer).origin) return undefined;
  return 'must use https (http only for localhost, 127.0.0.1 or [::1])';
}

function listProblem(value: unknown, issuer?: string): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return 'must be an array of URLs';
  for (const item of value) {
    const problem = uriProblem(item, issuer);
    if (problem) return `${JSON.stringify(String(item).slice(0, 100))} ${problem}`;
  }
  return undefined;
}

function jwksProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const keys = (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) return 'must be a JWK Set with a keys array';
  for (const [i, jwk] of keys.entries()) {
    if (!jwk || typeof jwk !== 'object') return `key ${i} is not a JSON object`;
    // A client publishes public keys only; a private part here is a leaked secret.
    if ('d' in jwk || 'k' in jwk) return `key ${i} must be a public key`;
    let details: { modulusLength?: number } | undefined;
    try {
      details = createPublicKey({ key: jwk as never, format: 'jwk' }).asymmetricKeyDetails;
    } catch {
      return `key ${i} is not a valid public key`;
    }
    // RFC 7518 §3.3: RSA keys for RS*/PS* are 2048 bits or larger.
    if (details?.modulusLength !== undefined && details.modulusLength < 2048) return `key ${i} is an RSA key shorter than 2048 bits`;
  }
  return undefined;
}

export interface ClientRuleOptions {
  /** The scopes this Gatehouse offers. */
  scopes: readonly string[];
  /** The issuer URL (its own origin is accepted like loopback). */
  issuer?: string;
}

/**
 * Every problem with `metadata` (RFC 7591 names), by field; empty when the client may be stored.
 * `metadata` is what will be stored, defaults applied.
 */
export function clientMetadataProblems(metadata: Record<string, unknown>, { scopes, issuer }: ClientRuleOptions): Record<string, string> {
  const problems: Record<string, string> = {};
  const grantTypes = Array.isArray(metadata.grant_types) ? (metadata.grant_types as string[]) : [];
  const responseTypes = Array.isArray(metadata.response_types) ? (metadata.response_types as string[]) : [];
  const authMethod = metadata.token_endpoint_auth_method;

  if (authMethod !== undefined && !TOKEN_ENDPOINT_AUTH_METHODS.includes(authMethod as never)) {
    problems.token_endpoint_auth_method = `must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`;
  }
  // A public client has nothing to authenticate with: it may only act for a signed-in user
  // (with PKCE, required for every client), never on its own behalf.
  if (authMethod === 'none') {
    if (grantTypes.includes('client_credentials')) problems.grant_types = 'a public client (token_endpoint_auth_method none) cannot use client_credentials';
    if (metadata.client_secret) problems.client_secret = 'a public client has no secret';
  }
  // RFC 7591 §2.1: authorization_code goes with the code response type, and only with it.
  if (grantTypes.includes('authorization_code') !== responseTypes.includes('code')) {
    problems.response_types = 'the code response type and the authorization_code grant type go together';
  }
  if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) {
    problems.grant_types ??= 'refresh_token needs authorization_code';
  }

  const redirects = listProblem(metadata.redirect_uris, issuer);
  if (redirects) problems.redirect_uris = redirects;
  else if (grantTypes.includes('authorization_code') && !(metadata.redirect_uris as unknown[] | undefined)?.length) {
    problems.redirect_uris = 'authorization_code needs at least one redirect URI';
  }
  const postLogout = listProblem(metadata.post_logout_redirect_uris, issuer);
  if (postLogout) problems.post_logout_redirect_uris = postLogout;
  if (metadata.backchannel_logout_uri !== undefined) {
    const problem = uriProblem(metadata.backchannel_logout_uri, issuer);
    if (problem) problems.backchannel_logout_uri = problem;
  }

  if (metadata.scope !== undefined) {
    if (typeof metadata.scope !== 'string') problems.scope = 'must be a space-separated string';
    else {
      const unknown = metadata.scope.split(' ').filter((s) => s && !scopes.includes(s));
      if (unknown.length) problems.scope = `unknown scope ${unknown.join(', ')}; offered: ${scopes.join(' ')}`;
    }
  }
  const name = metadata.client_name;
  if (name !== undefined && (typeof name !== 'string' || name.length > 200)) problems.client_name = 'must be a string of at most 200 characters';
  const description = metadata.client_description;
  if (description !== undefined && (typeof description !== 'string' || description.length > MAX_DESCRIPTION_LENGTH)) {
    problems.client_description = `must be a string of at most ${MAX_DESCRIPTION_LENGTH} characters`;
  }
  const jwks = jwksProblem(metadata.jwks);
  if (jwks) problems.jwks = jwks;
  return problems;
}

/** One line naming each field and its problem, for the CLI and protocol error descriptions. */
export function describeProblems(problems: Record<string, string>): string {
  return Object.entries(problems)
    .map(([field, problem]) => `${field}: ${problem}`)
    .join('; ');
}

/**
 * A new client id: 16 base64url characters that start with a letter or digit, for clients made
 * by admins and through dynamic registration (provider.ts `idFactory`). An id starting with `-`
 * would read as an option on a command line (`gatehouse client show -w…`, which CI met): such
 * draws (about one in 32) are drawn again.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(12).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
