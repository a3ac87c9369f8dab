import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import { AppError, ValidationError } from '../errors.ts';
import type { ClientMetadata, ClientsRepo } from './clients.repo.ts';
import { clientMetadataProblems, describeProblems } from './client-rules.ts';
import { SCOPES } from './provider.ts';

export interface NewClient {
  name: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  public?: boolean;
  firstParty?: boolean;
  /** Default `authorization_code,refresh_token`. */
  grantTypes?: string[];
  /** Default `openid profile email offline_access`. */
  scope?: string;
  /** OIDC Back-Channel Logout 1.0: where Gatehouse POSTs a logout token when the user signs out. */
  backchannelLogoutUri?: string;
}

/**
 * Registers a client the way an admin does (CLI, admin API): generated id and secret, and
 * metadata checked by oidc-provider's own schema, so what is stored is what it will load.
 * Returns the stored metadata with `client_id` and `client_secret` (absent when public) first.
 */
export async function registerClient(
  { clients, provider }: { clients: ClientsRepo; provider: Provider },
  input: NewClient,
): Promise<ClientMetadata> {
  const grantTypes = input.grantTypes?.length ? input.grantTypes : ['authorization_code', 'refresh_token'];
  const redirectUris = input.redirectUris ?? [];
  if (!input.name?.trim()) throw new ValidationError({ client_name: 'a client needs a name' }, 'client_name: a client needs a name');

  const metadata: ClientMetadata = {
    client_id: randomBytes(12).toString('base64url'),
    client_name: input.name.trim(),
    redirect_uris: redirectUris,
    post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
    scope: input.scope ?? 'openid profile email offline_access',
    first_party: Boolean(input.firstParty),
  };
  if (input.backchannelLogoutUri) metadata.backchannel_logout_uri = input.backchannelLogoutUri;
  if (!input.public) metadata.client_secret = randomBytes(32).toString('base64url');
  const problems = clientMetadataProblems(metadata, { scopes: SCOPES, issuer: provider.issuer });
  if (Object.keys(problems).length) throw new ValidationError(problems, describeProblems(problems));

  try {
    await provider.Client.validate(metadata);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new AppError('INVALID_CLIENT_METADATA', 400, e.error_description ?? e.message);
  }
  await clients.upsert(metadata, Boolean(input.firstParty));
  const { client_id: clientId, client_secret: clientSecret, ...stored } = (await clients.find(metadata.client_id))!;
  return { client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}), ...stored };
}
