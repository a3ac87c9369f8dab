/**
 * oidc-provider's adapter contract (docs/README.md, "adapter"): one instance per model name.
 * `consume` must be atomic: of two parallel redemptions of one code or refresh token,
 * exactly one succeeds; the other gets `invalid_grant` and its grant is revoked
 * (RFC 9700 §4.14 refresh token replay, RFC 6749 §4.1.2 code reuse).
 */
export interface AdapterPayload {
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
  [key: string]: unknown;
}

export interface Adapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export type AdapterFactory = (name: string) => Adapter;

/** Models whose consumption redeems something: a second consumption is a replay. */
export const GRANT_SOURCES = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * What a replay revokes, as oidc-provider's own `revoke` helper does: every token of the
 * grant, and the grant. (`revokeByGrantId` itself is per model: oidc-provider calls it on each
 * token model in turn, and an Interaction or Session that mentions the grant must survive it.)
 */
export const GRANT_TOKEN_MODELS = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest'];

/**
 * Identifiers oidc-provider makes are URL-safe (nanoid, base64url, uuids). Anything else that
 * arrives from a request (a NUL byte, say, which Postgres text cannot hold) cannot name a
 * stored object: look-ups answer "not found" instead of reaching the store and failing.
 */
export function isStorableId(id: unknown): id is string {
  return typeof id === 'string' && /^[A-Za-z0-9_\-.:~]{1,512}$/.test(id);
}
