import type { FastifyRequest } from 'fastify';
import type { Account } from '../accounts/accounts.service.ts';
import { issuedBefore } from '../accounts/revocation/revocation.repo.ts';
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
 * The signed-in user and the verified access token of the request, or undefined. Access
 * tokens are stateless (RFC 9068): one stays valid until it expires, minutes after it was
 * issued, unless the account is disabled or its sessions revoked, which are read on every call.
 */
export async function getSession(request: FastifyRequest): Promise<{ user: SessionUser; token: AccessTokenClaims } | undefined> {
  const token = await getSessionToken(request);
  if (!token) return undefined;
  const { accounts } = request.server.gatehouse;
  const account = await accounts.findById(token.sub);
  if (!account || account.disabled) return undefined;
  // Issue 3's "sign out everywhere" (a password reset): tokens issued before it are void.
  if (issuedBefore(account.sessionsRevokedAt, [token.iat])) return undefined;
  return { user: sessionUserOf(account), token };
}

export function sessionUserOf(account: Pick<Account, 'id' | 'email' | 'name' | 'roles'>): SessionUser {
  return { sub: account.id, email: account.email, name: account.name, roles: account.roles };
}

/** The user signed in to Gatehouse or a first-party app through the `gatehouse_at` cookie, or undefined. */
export async function getSessionUser(request: FastifyRequest): Promise<SessionUser | undefined> {
  return (await getSession(request))?.user;
}
