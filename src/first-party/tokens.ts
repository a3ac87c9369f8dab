import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { randomToken } from '../crypto/secret-box.ts';
import type { KeyRing } from './keyring.ts';
import { SIGNING_ALG } from './keyring.ts';

/**
 * The JWTs of first-party cookies.
 *
 * `gatehouse_at` at sign-in comes from oidc-provider itself (a resource indicator naming the
 * client: provider.ts `getResourceServerInfo`). On refresh and JSON login there is no
 * authorization request for the provider to answer, and driving its token endpoint would mean
 * keeping a provider refresh token alongside ours. So those are minted here, exactly as
 * oidc-provider's JWT format does (lib/models/formats/jwt.js): the same key (the newest
 * active ES256 key of `signing_keys`, which is the one its keystore selects), the same header
 * (`typ: at+jwt`, `kid`) and the same claims (RFC 9068 §2.2). A test compares the two.
 *
 * `gatehouse_rt` is for Gatehouse alone: audience the issuer, and its own `typ` so that it can
 * never pass for an access token or the reverse (RFC 8725 §3.11).
 */

export const REFRESH_TYP = 'rt+jwt';

export interface MintedToken {
  token: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export async function mintAccessToken(
  keys: KeyRing,
  { issuer, accountId, clientId, scope, ttlSeconds, now = Date.now() }: { issuer: string; accountId: string; clientId: string; scope: string; ttlSeconds: number; now?: number },
): Promise<MintedToken> {
  const { kid, key } = await keys.signingKey();
  const iat = Math.floor(now / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({ jti: randomToken(32), sub: accountId, iat, exp, scope: scope || undefined, client_id: clientId, iss: issuer, aud: clientId })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: 'at+jwt', kid })
    .sign(key);
  return { token, expiresAt: exp };
}

export async function mintRefreshToken(
  keys: KeyRing,
  { issuer, accountId, clientId, jti, expiresAt, now = Date.now() }: { issuer: string; accountId: string; clientId: string; jti: string; expiresAt: Date; now?: number },
): Promise<MintedToken> {
  const { kid, key } = await keys.signingKey();
  const exp = Math.floor(expiresAt.getTime() / 1000);
  const token = await new SignJWT({ jti, sub: accountId, client_id: clientId, iss: issuer, aud: issuer, iat: Math.floor(now / 1000), exp })
    .setProtectedHeader({ alg: SIGNING_ALG, typ: REFRESH_TYP, kid })
    .sign(key);
  return { token, expiresAt: exp };
}

export interface RefreshTokenClaims {
  jti: string;
  sub: string;
  clientId: string;
}

/**
 * The claims of a `gatehouse_rt` JWT; throws a jose error when it does not verify. With
 * `allowExpired` (signing out) an expired one is accepted: jose checks expiry last, after the
 * signature, `typ`, issuer and audience, so its JWTExpired carries claims that verified.
 */
export async function verifyRefreshToken(
  keys: KeyRing,
  token: string,
  { issuer, allowExpired = false }: { issuer: string; allowExpired?: boolean },
): Promise<RefreshTokenClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys.verificationKey, {
      algorithms: [SIGNING_ALG],
      typ: REFRESH_TYP,
      issuer,
      audience: issuer,
      requiredClaims: ['jti', 'sub', 'client_id', 'exp'],
    }));
  } catch (err) {
    if (!(allowExpired && err instanceof errors.JWTExpired)) throw err;
    payload = err.payload;
  }
  if (typeof payload.jti !== 'string' || typeof payload.sub !== 'string' || typeof payload.client_id !== 'string') {
    throw new errors.JWTClaimValidationFailed('refresh token claims of the wrong type', payload);
  }
  return { jti: payload.jti, sub: payload.sub, clientId: payload.client_id };
}
