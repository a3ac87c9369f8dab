import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Account, Accounts } from '../../accounts/accounts.service.ts';
import { isUuid } from '../../db/uuid.ts';
import { NotFoundError, ValidationError } from '../../errors.ts';
import { formBody, formText, NO_INPUT, queryText } from '../../http/schemas.ts';
import { translate } from '../../http/views.ts';
import { page } from '../../pages/page.ts';
import { ADMIN_USER_VERIFICATION_SENT, type SecurityEvents } from '../../security/events.ts';
import { recordAdminChange } from '../audit.ts';
import { commaList } from '../cli-args.ts';
import { decodeCursor, pageOf } from '../cursor.ts';
import { signOutUser, updateUser, userView, type UserChange } from '../users.service.ts';
import { consoleAuth, type ConsoleAuthDeps } from './console-auth.ts';
import { consoleListRoutes, type ConsoleListOptions } from './console-lists.routes.ts';
import { CONSOLE_TEMPLATES, consoleView, nextLink, userNotice, userRow, type UserDone } from './console.view.ts';

export interface ConsoleOptions extends ConsoleAuthDeps, Omit<ConsoleListOptions, 'auth'> {
  knex: Knex;
  accounts: Accounts;
  events: SecurityEvents;
  /** Mails the account a new e-mail confirmation link. */
  mailVerification: (account: Account) => Promise<void>;
}

const PAGE_SIZE = 50;
const listQuery = { querystring: z.looseObject({ q: queryText.max(200).optional(), cursor: queryText.max(500).optional() }) };
const userParams = z.object({ id: z.string().max(200) });
const doneQuery = z.looseObject({ done: queryText.optional() });

/** The user changes the console's buttons make, each a CSRF-checked POST. */
const SWITCHES: Record<'disable' | 'enable' | 'verify', { change: UserChange; done: UserDone }> = {
  disable: { change: { disabled: true }, done: 'disabled' },
  enable: { change: { disabled: false }, done: 'enabled' },
  verify: { change: { email_verified: true }, done: 'verified' },
};

/**
 * The admin console at /admin (issue 11): server-rendered pages in the hosted pages' design,
 * for people with the admin role signed in to Gatehouse (console-auth.ts). Register inside
 * the pages' scope, which parses forms and checks CSRF tokens. Every change goes through the
 * same rules as the admin API and the CLI, and into the audit trail as `console`.
 */
export async function adminConsoleRoutes(scope: FastifyInstance, options: ConsoleOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const { accounts, knex, events } = options;
  const auth = consoleAuth(options);
  const deps = { knex, accounts, events };
  app.addHook('preHandler', auth.requireConsoleAdmin);
  const view = (request: FastifyRequest, section: Parameters<typeof consoleView>[0], extra: Record<string, unknown> = {}) =>
    consoleView(section, auth.adminOf(request).email, extra);

  app.get('/admin', { schema: NO_INPUT }, async (request, reply) => page(reply, CONSOLE_TEMPLATES.index, view(request, 'index')));

  app.get('/admin/users', { schema: listQuery }, async (request, reply) => {
    const { q, cursor } = request.query;
    const rows = await accounts.repo.page({ q: q?.trim() || undefined, limit: PAGE_SIZE + 1, after: cursor ? decodeCursor(cursor, isUuid) : undefined });
    const { items, next_cursor: next } = pageOf(rows, PAGE_SIZE, (row) => userRow(userView(row.account)));
    return page(reply, CONSOLE_TEMPLATES.users, view(request, 'users', { users: items, q, next: nextLink('/admin/users', { q }, next) }));
  });

  async function userPage(request: FastifyRequest, reply: FastifyReply, id: string, extra: Record<string, unknown> = {}, status = 200) {
    const account = await accounts.repo.findById(id);
    if (!account) throw new NotFoundError();
    const user = userRow(userView(account));
    return page(reply, CONSOLE_TEMPLATES.user, view(request, 'users', { user, values: { roles: user.rolesText }, fields: {}, ...extra }), status);
  }

  app.get('/admin/users/:id', { schema: { params: userParams, querystring: doneQuery } }, async (request, reply) =>
    userPage(request, reply, request.params.id, userNotice(request.query.done)),
  );

  const back = (reply: FastifyReply, id: string, done: UserDone) => reply.redirect(`/admin/users/${id}?done=${done}`, 303);
  const found = async <T>(work: Promise<T | undefined>): Promise<T> => {
    const result = await work;
    if (!result) throw new NotFoundError();
    return result;
  };

  for (const [action, { change, done }] of Object.entries(SWITCHES)) {
    app.post(`/admin/users/:id/${action}`, { schema: { params: userParams, body: formBody({}) } }, async (request, reply) => {
      await found(updateUser(deps, auth.consoleActor(request), request.params.id, change));
      return back(reply, request.params.id, done);
    });
  }

  app.post('/admin/users/:id/roles', { schema: { params: userParams, body: formBody({ roles: formText.optional() }) } }, async (request, reply) => {
    const { id } = request.params;
    try {
      await found(updateUser(deps, auth.consoleActor(request), id, { roles: commaList(request.body.roles ?? '') }));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return userPage(request, reply, id, { error: translate('admin.user.bad_roles'), fields: { roles: translate('admin.user.roles_rule') }, values: { roles: request.body.roles } }, 400);
    }
    return back(reply, id, 'roles');
  });

  app.post('/admin/users/:id/sessions', { schema: { params: userParams, body: formBody({}) } }, async (request, reply) => {
    await found(signOutUser(deps, auth.consoleActor(request), request.params.id));
    return back(reply, request.params.id, 'sessions');
  });

  app.post('/admin/users/:id/verification-email', { schema: { params: userParams, body: formBody({}) } }, async (request, reply) => {
    const account = await found(accounts.repo.findById(request.params.id));
    if (account.emailVerifiedAt || account.disabled) return userPage(request, reply, account.id, { error: translate('admin.user.cannot_mail') }, 409);
    await options.mailVerification(account);
    await recordAdminChange(events, ADMIN_USER_VERIFICATION_SENT, auth.consoleActor(request), { accountId: account.id, details: { user: account.email } });
    return back(reply, account.id, 'mailed');
  });

  await app.register(consoleListRoutes, { ...options, auth });
}
