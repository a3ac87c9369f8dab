import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/**
 * Verifying Gatehouse access tokens (RFC 9068 JWTs) in a resource server: an API of a
 * first-party app, or Gatehouse itself. A plain function (`createAccessTokenVerifier`) and a
 * Fastify plugin (`accessTokenPlugin`) around it.
 */

/** The cookie a first-party app's browser carries its access token in (CONTRACT.md). */
export const ACCESS_COOKIE = 'gatehouse_at';

/** RFC 9068 §2.2: the claims every JWT access token carries. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
}

/** Why a token was refused; `reason` is stable, for logs and tests, never shown to a caller. */
export type AccessTokenRejection = 'malformed' | 'algorithm' | 'unknown_key' | 'signature' | 'typ' | 'issuer' | 'audience' | 'expired' | 'claims';

export class AccessTokenError extends Error {
  readonly reason: AccessTokenRejection;
  constructor(reason: AccessTokenRejection, options?: ErrorOptions) {
    super(`access token refused: ${reason}`, options);
    this.name = 'AccessTokenError';
    this.reason = reason;
  }
}

// RFC 8725 §3.1 and RFC 9068 §4: accept the one algorithm Gatehouse signs access tokens with.
// Pinning is what defeats `alg: none` and an HS256 token keyed with the public key.
const ALGORITHMS = ['ES256'];
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];

function rejection(err: unknown): AccessTokenError | undefined {
  if (err instanceof errors.JOSEAlgNotAllowed) return new AccessTokenError('algorithm', { cause: err });
  if (err instanceof errors.JWKSNoMatchingKey) return new AccessTokenError('unknown_key', { cause: err });
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AccessTokenError('signature', { cause: err });
  if (err instanceof errors.JWTExpired) return new AccessTokenError('expired', { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    const byClaim: Record<string, AccessTokenRejection> = { typ: 'typ', iss: 'issuer', aud: 'audience' };
    return new AccessTokenError(byClaim[err.claim] ?? 'claims', { cause: err });
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new AccessTokenError('malformed', { cause: err });
  }
  return undefined;
}

/**
 * Verifies one access token with the given key lookup: ES256 only, header `typ` at+jwt (an
 * ID token, which is a JWT of the same issuer and often the same audience, fails here: RFC
 * 9068 §4), issuer, audience when given, expiry, and the RFC 9068 claims. Throws
 * AccessTokenError for a bad token; anything else (a JWKS that cannot be fetched) as is.
 */
export async function verifyAccessToken(
  token: string,
  getKey: JWTVerifyGetKey,
  { issuer, audience, clockTolerance = 5 }: { issuer: string; audience?: string | string[]; clockTolerance?: number },
): Promise<AccessTokenClaims> {
  try {
    const { payload } = await jwtVerify(token, getKey, {
      algorithms: ALGORITHMS,
      typ: 'at+jwt',
      issuer,
      audience,
      requiredClaims: REQUIRED_CLAIMS,
      clockTolerance,
    });
    if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string' || typeof payload.jti !== 'string') {
      throw new AccessTokenError('claims');
    }
    return payload as AccessTokenClaims;
  } catch (err) {
    throw rejection(err) ?? err;
  }
}

export interface AccessTokenVerifierOptions {
  /** The Gatehouse issuer URL, exactly as in its discovery document. */
  issuer: string;
  /** The client id of the first-party app: Gatehouse sets it as the tokens' `aud`. */
  audience: string | string[];
  /** Default `${issuer}/jwks` (the `jwks_uri` of Gatehouse's discovery document). */
  jwksUri?: string;
  /** After fetching the JWKS, wait this long before fetching it again for an unknown `kid`. Default 30. */
  jwksCooldownSeconds?: number;
}

/**
 * A verifier for one audience, with the issuer's JWKS fetched over HTTP: jose caches the key
 * set and fetches it again when a token names a `kid` it does not hold (after a key rotation),
 * at most once per cooldown.
 */
export function createAccessTokenVerifier({ issuer, audience, jwksUri = `${issuer}/jwks`, jwksCooldownSeconds = 30 }: AccessTokenVerifierOptions) {
  const jwks = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: jwksCooldownSeconds * 1000 });
  return (token: string) => verifyAccessToken(token, jwks, { issuer, audience });
}

/** The access token of a request: `Authorization: Bearer` (RFC 6750 §2.1), else the cookie. */
export function accessTokenOf(request: FastifyRequest, cookieName = ACCESS_COOKIE): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization) {
    const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization);
    return m?.[1];
  }
  const cookies = (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies;
  if (cookies) return cookies[cookieName] || undefined;
  // Without @fastify/cookie: read the one cookie from the header.
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === cookieName) return part.slice(i + 1).trim() || undefined;
  }
  return undefined;
}

export interface AccessTokenPluginOptions extends AccessTokenVerifierOptions {
  /** Default `gatehouse_at`. */
  cookieName?: string;
}

/**
 * `app.register(accessTokenPlugin, { issuer, audience })` decorates the app with
 * `requireAccessToken`, a preHandler that answers 401 (RFC 6750 §3, `WWW-Authenticate:
 * Bearer error="invalid_token"`) unless the request carries a valid access token, and puts
 * the token's claims on `request.accessToken`.
 *
 * Cookie-authenticated state-changing routes still need a CSRF defence (SameSite=Lax does not
 * stop a sibling subdomain): check `Origin` there, as Gatehouse's own /session routes do.
 */
export const accessTokenPlugin = fp(
  async function accessTokenPlugin(app: FastifyInstance, options: AccessTokenPluginOptions) {
    const verify = createAccessTokenVerifier(options);
    app.decorateRequest('accessToken', undefined);
    app.decorate('requireAccessToken', async function requireAccessToken(request: FastifyRequest, reply: FastifyReply) {
      const refuse = (challenge: string) =>
        reply.code(401).header('www-authenticate', challenge).header('cache-control', 'no-store').send({ error: 'UNAUTHORIZED', message: 'A valid access token is required.' });
      const token = accessTokenOf(request, options.cookieName);
      if (!token) return refuse('Bearer');
      try {
        request.accessToken = await verify(token);
      } catch (err) {
        if (!(err instanceof AccessTokenError)) throw err;
        request.log.info({ reason: err.reason }, 'access token refused');
        return refuse('Bearer error="invalid_token"');
      }
    });
  },
  { name: 'gatehouse-access-token', fastify: '5.x' },
);

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireAccessToken` (accessTokenPlugin) once the token verified. */
    accessToken?: AccessTokenClaims;
  }
  interface FastifyInstance {
    /** preHandler of accessTokenPlugin: 401 unless the request carries a valid access token. */
    requireAccessToken: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  }
}
