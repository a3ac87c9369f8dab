import type { FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_ROLE, type Account, type Accounts } from '../../accounts/accounts.service.ts';
import type { SessionUser } from '../../first-party/session.ts';
import { translate } from '../../http/views.ts';
import { requestContext } from '../../security/events.ts';
import type { AuditActor } from '../audit.ts';
import { CONSOLE_TEMPLATES } from './console.view.ts';

export interface ConsoleAuthDeps {
  issuer: string;
  accounts: Accounts;
  /** The person signed in through the first-party `gatehouse_at` cookie, if any. */
  currentUser: (request: FastifyRequest) => Promise<SessionUser | undefined>;
}

/**
 * Who may use the console (CONTRACT.md: `/admin`, for users with the admin role): the person
 * signed in to Gatehouse's own first-party session whose account, read afresh on every
 * request, is enabled and has the `admin` role. Not signed in: the hosted login, back here.
 * Signed in without the role: a 403 page that shows nothing of the console.
 */
export function consoleAuth({ issuer, accounts, currentUser }: ConsoleAuthDeps) {
  const admins = new WeakMap<FastifyRequest, Account>();

  async function requireConsoleAdmin(request: FastifyRequest, reply: FastifyReply) {
    const user = await currentUser(request);
    if (!user) {
      // Back to the console's start, the one console address the sign-in may return to.
      return reply.redirect(`/login?${new URLSearchParams({ return_to: `${issuer}/admin` })}`, 303);
    }
    const account = await accounts.findById(user.sub);
    if (!account || account.disabled || !account.roles.includes(ADMIN_ROLE)) {
      return reply.code(403).view(CONSOLE_TEMPLATES.forbidden, { title: translate('admin.forbidden.title'), email: account?.email });
    }
    admins.set(request, account);
  }

  /** The admin of a request the preHandler let through. */
  function adminOf(request: FastifyRequest): Account {
    const account = admins.get(request);
    if (!account) throw new Error('console route without its admin check');
    return account;
  }

  /** The admin as the audit trail records them. */
  function consoleActor(request: FastifyRequest): AuditActor {
    const account = adminOf(request);
    return { via: 'console', accountId: account.id, email: account.email, ...requestContext(request) };
  }

  return { requireConsoleAdmin, adminOf, consoleActor };
}

export type ConsoleAuth = ReturnType<typeof consoleAuth>;
