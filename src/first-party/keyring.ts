import { errors, importJWK, type CryptoKey, type JWK, type JWSHeaderParameters } from 'jose';
import type { Knex } from 'knex';
import { loadSigningJwks } from '../oidc/keys.ts';
import type { SecretBox } from '../security/secret-box.ts';

/**
 * The signing keys as the first-party code needs them: the current ES256 private key to sign
 * (the key oidc-provider also signs JWT access tokens with, because both read the newest
 * active key of `signing_keys`), and public keys by `kid` to verify.
 *
 * Read from Postgres rather than from the provider: oidc-provider keeps its keystore private,
 * and `gatehouse keys rotate` may run in another process. Reloaded at most every
 * `reloadSeconds` (the host's own poll interval), and sooner when a token names a `kid` we do
 * not know yet, with a cooldown so that made-up kids cannot turn into a query per request.
 */
export interface KeyRing {
  /** The newest active ES256 key: what new access and refresh tokens are signed with. */
  signingKey(): Promise<{ kid: string; key: CryptoKey }>;
  /** A `getKey` for jose's jwtVerify: the ES256 public key named by the header's `kid`. */
  verificationKey(header: JWSHeaderParameters): Promise<CryptoKey>;
}

export const SIGNING_ALG = 'ES256';

const UNKNOWN_KID_COOLDOWN_MS = 5_000;

interface Loaded {
  at: number;
  /** ES256 keys, active first (newest first), then retired ones still within their grace. */
  jwks: JWK[];
}

function publicPart({ kty, crv, x, y, kid, alg }: JWK): JWK {
  return { kty, crv, x, y, kid, alg };
}

export function createKeyRing({
  knex,
  box,
  retiredKeyGraceSeconds,
  reloadSeconds,
  now = Date.now,
}: {
  knex: Knex;
  box: SecretBox;
  retiredKeyGraceSeconds: number;
  reloadSeconds: number;
  now?: () => number;
}): KeyRing {
  let loaded: Loaded | undefined;
  let loading: Promise<Loaded> | undefined;
  const imported = new Map<string, Promise<CryptoKey>>();

  function load(): Promise<Loaded> {
    // One query at a time however many requests ask at once.
    loading ??= loadSigningJwks(knex, box, retiredKeyGraceSeconds)
      .then(({ keys }) => {
        loaded = { at: now(), jwks: keys.filter((k) => k.alg === SIGNING_ALG && k.kid) };
        return loaded;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }

  async function current(): Promise<Loaded> {
    if (!loaded || now() - loaded.at > reloadSeconds * 1000) return load();
    return loaded;
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
      const jwk = (await current()).jwks[0];
      if (!jwk) throw new Error('no active ES256 signing key (run the server once, or `gatehouse keys rotate`)');
      return { kid: jwk.kid!, key: await importOnce(`private:${jwk.kid}`, jwk) };
    },

    async verificationKey(header) {
      if (header.alg !== SIGNING_ALG || typeof header.kid !== 'string') throw new errors.JWKSNoMatchingKey();
      let set = await current();
      let jwk = set.jwks.find((k) => k.kid === header.kid);
      if (!jwk && now() - set.at > UNKNOWN_KID_COOLDOWN_MS) {
        set = await load();
        jwk = set.jwks.find((k) => k.kid === header.kid);
      }
      if (!jwk) throw new errors.JWKSNoMatchingKey();
      return importOnce(`public:${jwk.kid}`, publicPart(jwk));
    },
  };
}
