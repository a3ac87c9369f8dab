import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import type { Account, Accounts } from '../accounts/accounts.service.ts';
import { isUuid } from '../db/uuid.ts';
import { AppError, ConflictError } from '../errors.ts';
import { ADMIN_USER_VERIFICATION_SENT, type SecurityEvents } from '../security/events.ts';
import { recordAdminChange } from './audit.ts';
import { apiActor } from './auth.ts';
import { adminError } from './clients.schemas.ts';
import { decodeCursor, pageOf } from './cursor.ts';
import { updateUserBody, userPage, userParams, usersQuery, userView as userSchema } from './users.schemas.ts';
import { signOutUser, updateUser, userView } from './users.service.ts';

export interface AdminUsersOptions {
  knex: Knex;
  accounts: Accounts;
  events: SecurityEvents;
  /** Mails the account a new e-mail confirmation link (the self-service flow's own mail). */
  mailVerification: (account: Account) => Promise<void>;
}

class UserNotFoundError extends AppError {
  constructor() {
    super('NOT_FOUND', 404, 'There is no user with this id.');
  }
}

const ERRORS = { 400: adminError, 401: adminError, 403: adminError };
const NOT_FOUND = { 404: adminError };
const TAGS = ['users'];
const SECURITY = [{ bearer: [] }];


/** Users under /admin/api/users (CONTRACT.md "Admin API"); the caller is an admin already (auth.ts). Never a password hash. */
export async function adminUsersRoutes(scope: FastifyInstance, { knex, accounts, events, mailVerification }: AdminUsersOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const deps = { knex, accounts, events };

  app.get(
    '/users',
    { schema: { tags: TAGS, security: SECURITY, summary: 'List users, oldest first, by cursor; `q` searches e-mail address, username and name', querystring: usersQuery, response: { 200: userPage, ...ERRORS } } },
    async (request) => {
      const { q, limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, isUuid) : undefined;
      const rows = await accounts.repo.page({ q: q?.trim() || undefined, limit: limit + 1, after });
      return pageOf(rows, limit, (row) => userView(row.account));
    },
  );

  app.get(
    '/users/:id',
    { schema: { tags: TAGS, security: SECURITY, summary: 'Read a user', params: userParams, response: { 200: userSchema, ...NOT_FOUND, ...ERRORS } } },
    async (request) => {
      const account = await accounts.repo.findById(request.params.id);
      if (!account) throw new UserNotFoundError();
      return userView(account);
    },
  );

  app.patch(
    '/users/:id',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Change a user\'s name, disabled state, verified e-mail or roles; disabling signs them out everywhere',
        params: userParams,
        body: updateUserBody,
        response: { 200: userSchema, ...NOT_FOUND, ...ERRORS },
      },
    },
    async (request) => {
      const updated = await updateUser(deps, apiActor(request), request.params.id, request.body);
      if (!updated) throw new UserNotFoundError();
      return updated;
    },
  );

  app.delete(
    '/users/:id/sessions',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Sign the user out everywhere: every OIDC session, grant and token and every first-party session',
        params: userParams,
        response: { 200: userSchema, ...NOT_FOUND, ...ERRORS },
      },
    },
    async (request) => {
      const account = await signOutUser(deps, apiActor(request), request.params.id);
      if (!account) throw new UserNotFoundError();
      return account;
    },
  );

  app.post(
    '/users/:id/verification-email',
    {
      schema: {
        tags: TAGS,
        security: SECURITY,
        summary: 'Mail the user a new e-mail confirmation link (409 when already confirmed or disabled)',
        params: userParams,
        response: { 202: userSchema, 409: adminError, ...NOT_FOUND, ...ERRORS },
      },
    },
    async (request, reply) => {
      const account = await accounts.repo.findById(request.params.id);
      if (!account) throw new UserNotFoundError();
      if (account.emailVerifiedAt) throw new ConflictError('ALREADY_VERIFIED', 'This user\'s e-mail address is confirmed already.');
      if (account.disabled) throw new ConflictError('ACCOUNT_DISABLED', 'This user is disabled; enable them first.');
      await mailVerification(account);
      await recordAdminChange(events, ADMIN_USER_VERIFICATION_SENT, apiActor(request), { accountId: account.id, details: { user: account.email } });
      return reply.code(202).send(userView(account));
    },
  );
}
