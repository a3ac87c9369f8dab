import type { FastifyRequest } from 'fastify';
import type { Account, Accounts } from '../accounts/accounts.service.ts';
import { accountValidity } from '../accounts/validity.ts';
import type { FirstPartyContext } from './context.ts';
import { ACCESS_COOKIE, AccessTokenError, verifyAccessToken, type AccessTokenClaims } from './resource-server.ts';

/** The signed-in user of a first-party session, as `GET /session` returns it. */
export interface SessionUser {
  sub: string;
  email?: string;
  name?: string;
  roles?: string[];
}

export interface SessionReaderDeps {
  issuer: string;
  accounts: Pick<Accounts, 'findById'>;
  context: FirstPartyContext;
}

/** Reads the first-party session of a request (its `gatehouse_at` cookie); made once in src/app.ts. */
export function createSessionReader({ issuer, accounts, context }: SessionReaderDeps) {
  const { keys, repo } = context;

  /**
   * The verified claims of the request's `gatehouse_at` cookie, or undefined when there is no
   * cookie or it does not verify (expired, bad signature, wrong issuer...). The audience must
   * be a first-party client: a third-party client can obtain a JWT access token for its own
   * audience through plain OIDC, and such a token is not a first-party session.
   */
  async function token(request: FastifyRequest): Promise<AccessTokenClaims | undefined> {
    const raw = request.cookies?.[ACCESS_COOKIE];
    if (!raw) return undefined;
    try {
      const claims = await verifyAccessToken(raw, keys.verificationKey, { issuer });
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
  async function session(request: FastifyRequest): Promise<{ user: SessionUser; token: AccessTokenClaims } | undefined> {
    const claims = await token(request);
    if (!claims) return undefined;
    const account = await accounts.findById(claims.sub);
    // Issue 3's "sign out everywhere" (a password reset): tokens issued before it are void.
    if (accountValidity(account, [claims.iat]) !== 'valid') return undefined;
    return { user: sessionUserOf(account!), token: claims };
  }

  return {
    token,
    session,
    /** The user signed in to Gatehouse or a first-party app through the `gatehouse_at` cookie, or undefined. */
    user: async (request: FastifyRequest): Promise<SessionUser | undefined> => (await session(request))?.user,
  };
}

export type SessionReader = ReturnType<typeof createSessionReader>;

export function sessionUserOf(account: Pick<Account, 'id' | 'email' | 'name' | 'roles'>): SessionUser {
  return { sub: account.id, email: account.email, name: account.name, roles: account.roles };
}
