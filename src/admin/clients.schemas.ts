import { z } from 'zod';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../oidc/client-rules.ts';

/**
 * The admin API's client schemas (RFC 7591 metadata names, plus `first_party`): they check the
 * shape of a request and are what the OpenAPI document is generated from. What a good value
 * is (https redirect URIs, consistent grant types) is client-rules.ts', for every path alike.
 */

const uris = z.array(z.string()).max(50);

const metadataFields = {
  client_name: z.string().min(1).max(200),
  redirect_uris: uris,
  post_logout_redirect_uris: uris,
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).min(1),
  response_types: z.array(z.enum(['code'])),
  token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS),
  scope: z.string().max(1000).describe('space-separated; `admin` allows the admin API'),
  backchannel_logout_uri: z.string(),
  first_party: z.boolean(),
};

export const CLIENT_FIELDS = Object.keys(metadataFields);

/** POST /admin/api/clients: a name, the rest defaulted. */
export const createClientBody = z.object({ ...metadataFields, client_name: metadataFields.client_name }).partial().required({ client_name: true });

/** PATCH /admin/api/clients/{client_id}: the fields to change. */
export const updateClientBody = z.object(metadataFields).partial();

/** A client as the API shows it: never its secret. */
export const clientView = z.object({
  client_id: z.string(),
  client_name: z.string().optional(),
  redirect_uris: z.array(z.string()).optional(),
  post_logout_redirect_uris: z.array(z.string()).optional(),
  grant_types: z.array(z.string()).optional(),
  response_types: z.array(z.string()).optional(),
  token_endpoint_auth_method: z.string().optional(),
  scope: z.string().optional(),
  backchannel_logout_uri: z.string().optional(),
  first_party: z.boolean(),
});

/** A client with the secret shown this once (creation, and a confidential client's rotation). */
export const clientWithSecret = clientView.extend({ client_secret: z.string().optional().describe('shown only in this answer') });

export const clientParams = z.object({ client_id: z.string().min(1).max(200) });

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(500).optional().describe('`next_cursor` of the previous page'),
});

export const clientPage = z.object({
  items: z.array(clientView),
  next_cursor: z.string().nullable().describe('null on the last page'),
});

export const secretAnswer = z.object({ client_id: z.string(), client_secret: z.string() });

/** Every error answer of the admin API (CONTRACT.md): `field` names the field of a validation failure. */
export const adminError = z.object({ error: z.string(), message: z.string(), field: z.string().optional() });
