import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.service.ts';
import { accountValidity } from '../accounts/validity.ts';
import { AppError } from '../errors.ts';
import type { ClientsRepo } from '../oidc/clients.repo.ts';
import { ADMIN_ROLE } from '../accounts/accounts.service.ts';
import { ADMIN_SCOPE } from '../oidc/provider.ts';
import { requestContext } from '../security/events.ts';
import type { AuditActor } from './audit.ts';

/**
 * Who may call the admin API (CONTRACT.md "Admin API"): a bearer access token this Gatehouse
 * issued, with the `admin` scope, to a client whose registered `scope` still lists `admin` (an
 * admin allowed it; taking it away ends its tokens' access at once), either for the client
 * itself (client credentials) or for a user who has the `admin` role.
 *
 * Only the opaque tokens the provider stores are accepted, looked up by the provider's own
 * models: a JWT access token is made for another audience (a client's own API) and is never
 * Gatehouse's to honour.
 */

/** Who made an admin change: the client, and the account when a user acted through it. */
export interface AdminActor {
  clientId: string;
  accountId?: string;
  email?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin API's authorization once the caller is known to be an admin. */
    admin?: AdminActor;
  }
}

/** 401: no token, or one Gatehouse does not honour (RFC 6750 §3). Says nothing more. */
export class AdminUnauthorizedError extends AppError {
  readonly challenge: string;
  constructor(challenge = 'Bearer') {
    super('UNAUTHORIZED', 401, 'A valid access token is required.');
    this.challenge = challenge;
  }
}

/** 403: a good token that is not an admin's. */
export class AdminForbiddenError extends AppError {
  constructor() {
    super('FORBIDDEN', 403, 'This token does not allow administering Gatehouse.');
  }
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i;

interface StoredToken {
  clientId?: string;
  accountId?: string;
  scope?: string;
  iat?: number;
  exp?: number;
  isExpired: boolean;
}

export interface AdminAuthDeps {
  provider: Provider;
  clients: ClientsRepo;
  accounts: Accounts;
}

/** The preHandler of every admin route but the OpenAPI document and its viewer. */
export function adminAuthorization({ provider, clients, accounts }: AdminAuthDeps) {
  async function findToken(value: string): Promise<StoredToken | undefined> {
    const found = (await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value));
    return (found as unknown as StoredToken | undefined) ?? undefined;
  }

  async function actorOf(request: FastifyRequest): Promise<AdminActor> {
    const header = request.headers.authorization;
    if (!header) throw new AdminUnauthorizedError();
    const value = BEARER.exec(header)?.[1];
    if (!value) throw new AdminUnauthorizedError('Bearer error="invalid_request"');
    const token = await findToken(value);
    // `find` leaves out expired tokens already; checked again as the rule this is.
    if (!token || token.isExpired || !token.clientId) throw new AdminUnauthorizedError('Bearer error="invalid_token"');

    const scopes = new Set((token.scope ?? '').split(' '));
    const client = await clients.find(token.clientId);
    if (!client) throw new AdminUnauthorizedError('Bearer error="invalid_token"');
    const allowed = typeof client.scope === 'string' && client.scope.split(' ').includes(ADMIN_SCOPE);
    if (!scopes.has(ADMIN_SCOPE) || !allowed) throw new AdminForbiddenError();
    if (!token.accountId) return { clientId: token.clientId };

    // A user's token: the account must still hold (not disabled, not signed out everywhere since) and be an admin.
    const account = await accounts.findById(token.accountId);
    if (!account || accountValidity(account, [token.iat]) !== 'valid') throw new AdminUnauthorizedError('Bearer error="invalid_token"');
    if (!account.roles.includes(ADMIN_ROLE)) throw new AdminForbiddenError();
    return { clientId: token.clientId, accountId: account.id, email: account.email };
  }

  return async function requireAdmin(request: FastifyRequest, _reply: FastifyReply) {
    request.admin = await actorOf(request);
  };
}

/** Who made an admin API call, for the audit trail (audit.ts). */
export function apiActor(request: FastifyRequest): AuditActor {
  return { via: 'api', ...request.admin, ...requestContext(request) };
}
