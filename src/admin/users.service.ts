import type { Knex } from 'knex';
import { validateAccountFields, type Account, type Accounts } from '../accounts/accounts.service.ts';
import { createRevocationRepo } from '../accounts/revocation/revocation.repo.ts';
import { ValidationError } from '../errors.ts';
import { normalizeEmail } from '../identifiers.ts';
import { ACCOUNT_DISABLED, ADMIN_USER_SESSIONS_REVOKED, ADMIN_USER_UPDATED, type SecurityEvents } from '../security/events.ts';
import { changesOf, recordAdminChange, type AuditActor } from './audit.ts';

/**
 * Administering accounts (issue 11): the rules the admin API, the CLI and the console share.
 * No HTTP here; every change is recorded in the audit trail (audit.ts).
 */

/** An account as admins see it: never its password hash. */
export interface UserView {
  id: string;
  email: string;
  username: string | null;
  name: string;
  email_verified: boolean;
  roles: string[];
  disabled: boolean;
  created_at: string;
  updated_at: string;
  /** When it was last signed out everywhere, if ever. */
  sessions_revoked_at: string | null;
}

export function userView(a: Account): UserView {
  return {
    id: a.id,
    email: a.email,
    username: a.username,
    name: a.name,
    email_verified: a.emailVerifiedAt !== null,
    roles: a.roles,
    disabled: a.disabled,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
    sessions_revoked_at: a.sessionsRevokedAt?.toISOString() ?? null,
  };
}

/** A role: lower-case letters, digits, `_`, `-`, `.`, starting with a letter; at most 40. */
export const ROLE_RE = /^[a-z][a-z0-9_.-]{0,39}$/;
export const MAX_ROLES = 20;
export const ROLE_RULE = 'lower-case letters, digits, _ . - (starting with a letter, at most 40), at most 20 roles';

/** The change an admin may make to an account (CONTRACT.md "Admin API"). */
export interface UserChange {
  name?: string;
  disabled?: boolean;
  email_verified?: boolean;
  roles?: string[];
}

export interface AdminUsersDeps {
  knex: Knex;
  accounts: Accounts;
  events: Pick<SecurityEvents, 'record'>;
}

/** An account by its id, or by its e-mail address or username (the CLI's `ID|EMAIL`). */
export async function findUser(accounts: Accounts, idOrLogin: string): Promise<Account | undefined> {
  return (await accounts.repo.findById(idOrLogin)) ?? (await accounts.repo.findByLogin(normalizeEmail(idOrLogin)));
}

function checkChange(change: UserChange): Record<string, string> {
  const problems: Record<string, string> = {};
  if (change.name !== undefined) {
    const problem = validateAccountFields({ email: 'x@example.com', name: change.name }).name;
    if (problem) problems.name = 'at most 200 characters, without control characters';
  }
  if (change.roles !== undefined && (change.roles.length > MAX_ROLES || !change.roles.every((r) => ROLE_RE.test(r)))) {
    problems.roles = ROLE_RULE;
  }
  return problems;
}

/**
 * Changes an account's name, disabled state, verified e-mail or roles; undefined when there is
 * no such account. Disabling ends every session, grant and token of the account at once
 * (ASVS V7.4.2). The audit event lists each field that changed, before and after.
 */
export async function updateUser(deps: AdminUsersDeps, actor: AuditActor, id: string, change: UserChange): Promise<UserView | undefined> {
  const problems = checkChange(change);
  const field = Object.keys(problems)[0];
  if (field) throw new ValidationError(problems, `${field}: ${problems[field]}`);
  const { repo } = deps.accounts;
  const result = await deps.knex.transaction(async (trx) => {
    const before = await repo.findById(id, trx);
    if (!before) return undefined;
    const verifiedAt = change.email_verified === undefined ? undefined : change.email_verified ? (before.emailVerifiedAt ?? new Date()) : null;
    const roles = change.roles && [...new Set(change.roles)];
    const after = await repo.update(before.id, { name: change.name?.trim(), disabled: change.disabled, roles, emailVerifiedAt: verifiedAt }, trx);
    if (!after) return undefined;
    if (after.disabled && !before.disabled) await createRevocationRepo(deps.knex).revokeSessions(after.id, trx);
    return { before: userView(before), after: (await repo.findById(after.id, trx))! };
  });
  if (!result) return undefined;
  const after = userView(result.after);
  const changes = changesOf({ ...result.before }, { ...after }, ['name', 'disabled', 'email_verified', 'roles']);
  if (Object.keys(changes).length) {
    await recordAdminChange(deps.events, ADMIN_USER_UPDATED, actor, { accountId: after.id, details: { user: after.email }, changes });
  }
  if (changes.disabled && after.disabled) {
    await deps.events.record(ACCOUNT_DISABLED, { accountId: after.id, ip: actor.ip, userAgent: actor.userAgent, details: { by: actor.via } });
  }
  return after;
}

/**
 * Signs the account out everywhere, as `/account`'s "sign out everywhere" does: its revocation
 * instant voids every OIDC session, grant and token and every first-party refresh family
 * issued until now. Undefined when there is no such account.
 */
export async function signOutUser(deps: AdminUsersDeps, actor: AuditActor, id: string): Promise<UserView | undefined> {
  const account = await deps.accounts.repo.findById(id);
  if (!account) return undefined;
  await createRevocationRepo(deps.knex).revokeSessions(account.id);
  await recordAdminChange(deps.events, ADMIN_USER_SESSIONS_REVOKED, actor, { accountId: account.id, details: { user: account.email } });
  return userView((await deps.accounts.repo.findById(account.id))!);
}
