import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import { AppError, ValidationError } from '../errors.ts';
import type { ClientMetadata, ClientsRepo } from './clients.repo.ts';
import { clientMetadataProblems, describeProblems, newClientId } from './client-rules.ts';
import { OFFERED_SCOPES } from './provider.ts';

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

/** What the functions below write through: the clients table and the provider that checks metadata. */
export interface ClientStore {
  clients: ClientsRepo;
  provider: Provider;
}

const newSecret = () => randomBytes(32).toString('base64url');



/** The field an oidc-provider metadata error is about, when its description starts with one. */
function providerErrorField(description: string): string | undefined {
  return /^([a-z_]+) /.exec(description)?.[1];
}

/**
 * Checks `metadata` (every rule of client-rules.ts, then oidc-provider's own schema, so what is
 * stored is what it will load) and stores it; every change to the cached copy goes through the
 * repo's upsert, which invalidates it on every instance. Returns the stored metadata with
 * `client_id` and `client_secret` (absent when public) first.
 */
export async function storeClient({ clients, provider }: ClientStore, metadata: ClientMetadata, firstParty?: boolean): Promise<ClientMetadata> {
  const problems = clientMetadataProblems(metadata, { scopes: OFFERED_SCOPES, issuer: provider.issuer });
  if (Object.keys(problems).length) throw new ValidationError(problems, describeProblems(problems));
  try {
    await provider.Client.validate(metadata);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    const description = e.error_description ?? e.message;
    const field = providerErrorField(description);
    throw new AppError('INVALID_CLIENT_METADATA', 400, description, field ? { [field]: description } : undefined);
  }
  await clients.upsert(metadata, firstParty);
  const { client_id: clientId, client_secret: clientSecret, ...stored } = (await clients.find(metadata.client_id))!;
  return { client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}), ...stored };
}

/**
 * Registers a client the way an admin does (CLI, admin API): generated id and secret, checked
 * by storeClient.
 */
export async function registerClient(store: ClientStore, input: NewClient): Promise<ClientMetadata> {
  const grantTypes = input.grantTypes?.length ? input.grantTypes : ['authorization_code', 'refresh_token'];
  if (!input.name?.trim()) throw new ValidationError({ client_name: 'a client needs a name' }, 'client_name: a client needs a name');
  return createClient(store, {
    client_name: input.name.trim(),
    redirect_uris: input.redirectUris ?? [],
    post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
    grant_types: grantTypes,
    token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
    scope: input.scope ?? 'openid profile email offline_access',
    first_party: Boolean(input.firstParty),
    ...(input.backchannelLogoutUri ? { backchannel_logout_uri: input.backchannelLogoutUri } : {}),
  });
}

/**
 * A new client from RFC 7591 metadata (defaults applied for what is absent): a generated id,
 * and a secret unless `token_endpoint_auth_method` is `none`.
 */
export async function createClient(store: ClientStore, input: Record<string, unknown> & { client_name: string }): Promise<ClientMetadata> {
  const grantTypes = (input.grant_types as string[] | undefined) ?? ['authorization_code', 'refresh_token'];
  const metadata: ClientMetadata = {
    redirect_uris: [],
    post_logout_redirect_uris: [],
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
    ...input,
    grant_types: grantTypes,
    first_party: Boolean(input.first_party),
    client_id: newClientId(),
  };
  if (metadata.token_endpoint_auth_method !== 'none') metadata.client_secret = newSecret();
  return storeClient(store, metadata, Boolean(input.first_party));
}

/**
 * Changes the given fields of a stored client, checked as a new one is; undefined when there
 * is no such client. A client made confidential gets a secret (returned), a public one loses it.
 */
export async function updateClient(store: ClientStore, clientId: string, changes: Record<string, unknown>): Promise<ClientMetadata | undefined> {
  const current = await store.clients.find(clientId);
  if (!current) return undefined;
  const { client_secret: secret, ...rest } = current;
  const metadata: ClientMetadata = { ...rest, ...changes, client_id: clientId };
  if (changes.grant_types && !changes.response_types) {
    metadata.response_types = (changes.grant_types as string[]).includes('authorization_code') ? ['code'] : [];
  }
  const fresh = metadata.token_endpoint_auth_method !== 'none' && !secret;
  if (metadata.token_endpoint_auth_method !== 'none') metadata.client_secret = secret ?? newSecret();
  const firstParty = typeof changes.first_party === 'boolean' ? changes.first_party : undefined;
  const stored = await storeClient(store, metadata, firstParty);
  if (!fresh) delete stored.client_secret;
  return stored;
}

/**
 * A new secret for a confidential client; the old one stops working at once (the repo's write
 * invalidates every instance's cached copy). Undefined when there is no such client or it is public.
 */
export async function rotateClientSecret(store: ClientStore, clientId: string): Promise<string | undefined> {
  const current = await store.clients.find(clientId);
  if (!current || current.token_endpoint_auth_method === 'none' || !current.client_secret) return undefined;
  const secret = newSecret();
  await store.clients.upsert({ ...current, client_secret: secret });
  return secret;
}
