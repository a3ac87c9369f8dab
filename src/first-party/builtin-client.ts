import type Provider from 'oidc-provider';
import type { ClientMetadata, ClientsRepo } from '../oidc/clients.repo.ts';

/**
 * Gatehouse's own first-party client: `/login` signs people in to `/account` with it, through
 * the same `/session/start` any first-party app uses. Public (PKCE, no secret: the code is
 * exchanged in-process), code flow only. Created on start when missing, and its redirect URI
 * follows ISSUER.
 */
export async function ensureBuiltinClient({ clients, provider, issuer, clientId }: { clients: ClientsRepo; provider: Provider; issuer: string; clientId: string }) {
  // `/login` comes back to the account page, or to the admin console (issue 11).
  const returnUris = [`${issuer}/account`, `${issuer}/admin`];
  const existing = await clients.find(clientId);
  const redirectUris = existing && Array.isArray(existing.redirect_uris) ? (existing.redirect_uris as string[]) : [];
  if (existing?.first_party === true && returnUris.every((uri) => redirectUris.includes(uri))) return;
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_name: 'Gatehouse',
    redirect_uris: returnUris,
    post_logout_redirect_uris: [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid email profile',
    first_party: true,
  };
  await provider.Client.validate(metadata);
  await clients.upsert(metadata, true);
}
