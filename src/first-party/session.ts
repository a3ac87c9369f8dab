import type { FastifyRequest } from 'fastify';
import { firstPartyContext } from './context.ts';
import { ACCESS_COOKIE, AccessTokenError, verifyAccessToken, type AccessTokenClaims } from './resource-server.ts';

/** The signed-in user of a first-party session, as `GET /session` returns it. */
export interface SessionUser {
  sub: string;
  email?: string;
  name?: string;
  roles?: string[];
}

/**
 * The verified claims of the request's `gatehouse_at` cookie, or undefined when there is no
 * cookie or it does not verify (expired, bad signature, wrong issuer...). The audience must
 * be a first-party client: a third-party client can obtain a JWT access token for its own
 * audience through plain OIDC, and such a token is not a first-party session.
 */
export async function getSessionToken(request: FastifyRequest): Promise<AccessTokenClaims | undefined> {
  const token = request.cookies?.[ACCESS_COOKIE];
  if (!token) return undefined;
  const { keys, repo } = firstPartyContext(request.server);
  try {
    const claims = await verifyAccessToken(token, keys.verificationKey, { issuer: request.server.gatehouse.config.issuer });
    if (claims.aud !== claims.client_id || !(await repo.isFirstParty(claims.client_id))) return undefined;
    return claims;
  } catch (err) {
    if (err instanceof AccessTokenError) {
      request.log.debug({ reason: err.reason }, 'session cookie refused');
      return undefined;
    }
    throw err;
  }
}

/**
 * The user signed in to Gatehouse or a first-party app through the `gatehouse_at` cookie, or
 * undefined. Access tokens are stateless (RFC 9068): one stays valid until it expires, minutes
 * after it was issued; the account is read on every call, so a disabled account is refused
 * at once.
 */
export async function getSessionUser(request: FastifyRequest): Promise<SessionUser | undefined> {
  const claims = await getSessionToken(request);
  if (!claims) return undefined;
  const account = await request.server.gatehouse.accounts.findById(claims.sub);
  if (!account || account.disabled) return undefined;
  return { sub: account.id, email: account.email, name: account.name, roles: account.roles };
}
