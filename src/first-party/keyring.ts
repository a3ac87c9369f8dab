import { errors, importJWK, type CryptoKey, type JWK, type JWSHeaderParameters } from 'jose';
import type { Knex } from 'knex';
import { loadSigningJwks } from '../oidc/keys.ts';
import type { SecretBox } from '../crypto/secret-box.ts';

/**
 * The signing keys as the first-party code needs them: the current ES256 private key to sign
 * (the key oidc-provider also signs JWT access tokens with: both take the newest active ES256
 * key of `signing_keys`), and public keys by `kid` to verify.
 *
 * oidc-provider keeps its keystore private, so the keys are read from Postgres, and read again
 * exactly when the OIDC host has built a provider on new keys (`generation` changes: the host
 * swaps its provider after `gatehouse keys rotate`). So this signs with the key the provider
 * signs with and publishes at /jwks, and a token naming a kid we do not know is refused without
 * a query: made-up kids cannot cost anything.
 */
export interface KeyRing {
  /** The newest active ES256 key: what new access and refresh tokens are signed with. */
  signingKey(): Promise<{ kid: string; key: CryptoKey }>;
  /** A `getKey` for jose's jwtVerify: the ES256 public key named by the header's `kid`. */
  verificationKey(header: JWSHeaderParameters): Promise<CryptoKey>;
}

export const SIGNING_ALG = 'ES256';

function publicPart({ kty, crv, x, y, kid, alg }: JWK): JWK {
  return { kty, crv, x, y, kid, alg };
}

export function createKeyRing({
  knex,
  box,
  retiredKeyGraceSeconds,
  generation,
}: {
  knex: Knex;
  box: SecretBox;
  retiredKeyGraceSeconds: number;
  /** Changes whenever the provider's keys do (the host's current provider instance). */
  generation: () => unknown;
}): KeyRing {
  let loaded: { generation: unknown; jwks: Promise<JWK[]> } | undefined;
  const imported = new Map<string, Promise<CryptoKey>>();

  /** ES256 keys, active first (newest first), then retired ones still within their grace. */
  function jwks(): Promise<JWK[]> {
    const current = generation();
    if (loaded && loaded.generation === current) return loaded.jwks;
    const pending = loadSigningJwks(knex, box, retiredKeyGraceSeconds).then(({ keys }) => keys.filter((k) => k.alg === SIGNING_ALG && k.kid));
    const entry = { generation: current, jwks: pending };
    loaded = entry;
    // A failed load is tried again by the next caller, not remembered.
    pending.catch(() => {
      if (loaded === entry) loaded = undefined;
    });
    return pending;
  }

  function importOnce(cacheKey: string, jwk: JWK): Promise<CryptoKey> {
    let key = imported.get(cacheKey);
    if (!key) {
      key = importJWK(jwk, SIGNING_ALG) as Promise<CryptoKey>;
      imported.set(cacheKey, key);
    }
    return key;
  }

  return {
    async signingKey() {
      const [jwk] = await jwks();
      if (!jwk) throw new Error('no active ES256 signing key (run the server once, or `gatehouse keys rotate`)');
      return { kid: jwk.kid!, key: await importOnce(`private:${jwk.kid}`, jwk) };
    },

    async verificationKey(header) {
      if (header.alg !== SIGNING_ALG || typeof header.kid !== 'string') throw new errors.JWKSNoMatchingKey();
      const jwk = (await jwks()).find((k) => k.kid === header.kid);
      if (!jwk) throw new errors.JWKSNoMatchingKey();
      return importOnce(`public:${jwk.kid}`, publicPart(jwk));
    },
  };
}
