import type { ClientMetadata } from '../oidc/clients.repo.ts';

// Given to the provider's configuration (src/app.ts): this module stays a leaf (no Fastify, no views).

export const SESSION_PREFIX = '/session';
export const CALLBACK_PATH = `${SESSION_PREFIX}/callback`;

/** Where `/session/start`'s code flow against Gatehouse itself comes back to. */
export function sessionCallbackUri(issuer: string): string {
  return `${issuer}${CALLBACK_PATH}`;
}

/**
 * Client metadata as the provider loads it: a first-party client that uses the code flow may
 * also come back to `/session/callback`. Added when loaded rather than stored, so it follows
 * ISSUER and never shows among the redirect URIs an admin registered (which is what
 * `return_to` is checked against).
 */
export function withSessionCallback(metadata: ClientMetadata | undefined, issuer: string): ClientMetadata | undefined {
  if (!metadata || metadata.first_party !== true) return metadata;
  const grantTypes = Array.isArray(metadata.grant_types) ? metadata.grant_types : ['authorization_code'];
  if (!grantTypes.includes('authorization_code')) return metadata;
  const uris = Array.isArray(metadata.redirect_uris) ? (metadata.redirect_uris as string[]) : [];
  const callback = sessionCallbackUri(issuer);
  return uris.includes(callback) ? metadata : { ...metadata, redirect_uris: [...uris, callback] };
}

/** The redirect URIs an admin registered for the client (never the implicit callback). */
export function registeredRedirectUris(metadata: ClientMetadata): string[] {
  return Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris.filter((u): u is string => typeof u === 'string') : [];
}

