import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import { isDependencyDown } from '../../errors.ts';

/**
 * oidc-provider's adapter contract (docs/README.md, "adapter"): one instance per model name.
 * `consume` must be atomic: of two parallel redemptions of one code or refresh token,
 * exactly one succeeds and the other gets `invalid_grant`. The loser does not revoke the
 * grant: the winner is still issuing its tokens, and would find its grant gone. A replay that
 * comes after (the code already marked consumed when found) is oidc-provider's to punish, and
 * it revokes everything the first use issued (RFC 6749 §4.1.2, RFC 9700 §4.14).
 * `revokeByGrantId` is per model: oidc-provider calls it on each token model in turn, and an
 * Interaction or Session that mentions the grant must survive it.
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
 * Identifiers oidc-provider makes are URL-safe (nanoid, base64url, uuids). Anything else that
 * arrives from a request (a NUL byte, say, which Postgres text cannot hold) cannot name a
 * stored object: look-ups answer "not found" instead of reaching the store and failing.
 */
export function isStorableId(id: unknown): id is string {
  return typeof id === 'string' && /^[A-Za-z0-9_\-.:~]{1,512}$/.test(id);
}

/**
 * A store that does not answer becomes RFC 6749's `temporarily_unavailable` with a 503,
 * instead of oidc-provider's generic 500 `server_error`: clients may retry, and nothing was
 * half-done.
 */
export function withUnavailableStorage(factory: AdapterFactory): AdapterFactory {
  const translate = (err: unknown) => {
    if (err instanceof Error && isDependencyDown(err)) {
      const unavailable = new errors.TemporarilyUnavailable('the token storage is unavailable, try again shortly', { cause: err });
      Object.assign(unavailable, { status: 503, statusCode: 503, expose: true });
      throw unavailable;
    }
    throw err;
  };
  return (name) => {
    const adapter = factory(name);
    const wrapped = {} as Adapter;
    for (const method of Object.keys(adapter) as (keyof Adapter)[]) {
      wrapped[method] = ((...args: never[]) => (adapter[method] as (...a: never[]) => Promise<never>)(...args).catch(translate)) as never;
    }
    return wrapped;
  };
}

/**
 * Models whose id is the bearer secret itself (an opaque token's value is its id) and that are
 * kept hashed: a read of the store (a backup, a replica, a Redis `KEYS`) gives nothing anyone
 * can present. The initial access tokens of `gatehouse iat create` and the registration access
 * tokens of RFC 7592 (issue 11: "stored hashed").
 */
export const HASHED_MODELS = new Set(['InitialAccessToken', 'RegistrationAccessToken']);

const hashId = (id: string) => `sha256:${createHash('sha256').update(id).digest('base64url')}`;

/**
 * Stores `models` under a SHA-256 of their id, without the id in the payload (`jti`), and gives
 * the id back on a read: oidc-provider sees the same contract, the store never holds the secret.
 */
export function withHashedIds(factory: AdapterFactory, models = HASHED_MODELS): AdapterFactory {
  return (name) => {
    const adapter = factory(name);
    if (!models.has(name)) return adapter;
    return {
      ...adapter,
      upsert: (id, payload, expiresIn) => adapter.upsert(hashId(id), { ...payload, jti: undefined }, expiresIn),
      find: async (id) => {
        const found = await adapter.find(hashId(id));
        return found && { ...found, jti: id };
      },
      consume: (id) => adapter.consume(hashId(id)),
      destroy: (id) => adapter.destroy(hashId(id)),
    };
  };
}
