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
