import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../../errors.ts';
import { getSessionUser } from '../../first-party/session.ts';
import { translate } from '../../http/views.ts';
import { PASSWORD_CHANGED, SESSIONS_REVOKED, type SecurityEventType } from '../../security/events.ts';
import type { SelfServicePagesOptions } from '../self-service/self-service.routes.ts';
import { auditOf, field, page } from '../self-service/pages.ts';
import { changePassword, signOutEverywhere, updateName } from './settings.service.ts';

/** Where each change leads: the name back to the page; the others end this session too. */
const DONE = { name: '/account?done=name', password: '/account/signed-out?why=password', sessions: '/account/signed-out?why=sessions' } as const;

const SIGNED_OUT = {
  password: { title: 'account.password_changed_title', body: 'account.password_changed_body' },
  sessions: { title: 'account.signed_out_title', body: 'account.signed_out_body' },
} as const;

/**
 * `/account`: the signed-in user (the first-party `gatehouse_at` cookie, issue 4) changes name
 * and password and signs out of other sessions. Not signed in: `/login`, which comes back here.
 *
 * A password change and "sign out of other sessions" both set the account's revocation instant
 * (revocation.repo.ts), which first-party sessions honour too (src/first-party/session.ts): the
 * session making the change ends with the others, and the person signs in again.
 */
export async function settingsRoutes(app: FastifyInstance, { selfService, security }: SelfServicePagesOptions) {
  const AUDITED: Partial<Record<keyof typeof DONE, SecurityEventType>> = { password: PASSWORD_CHANGED, sessions: SESSIONS_REVOKED };
  async function render(reply: FastifyReply, accountId: string, extra: Record<string, unknown> = {}, status = 200) {
    const account = await selfService.accounts.findById(accountId);
    if (!account) return reply.header('cache-control', 'no-store').redirect('/login', 303);
    return page(
      reply,
      'account',
      { title: translate('account.title'), account: { email: account.email, username: account.username }, values: { name: account.name }, fields: {}, ...extra },
      status,
    );
  }

  /** Runs a change for the signed-in user: 303 back to /account when done, the page with errors when not. */
  function change(what: keyof typeof DONE, run: (accountId: string, body: Record<string, unknown>) => Promise<void>) {
    return async (request: FastifyRequest<{ Body: Record<string, unknown> }>, reply: FastifyReply) => {
      const user = await getSessionUser(request);
      if (!user) return reply.header('cache-control', 'no-store').redirect('/login', 303);
      try {
        await run(user.sub, request.body ?? {});
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const values = what === 'name' ? { values: { name: field(request.body?.name) } } : {};
        return render(reply, user.sub, { error: err.message, fields: err.fields ?? {}, ...values }, 400);
      }
      const event = AUDITED[what];
      if (event) await security.events.record(event, auditOf(request, user.sub));
      return reply.header('cache-control', 'no-store').redirect(DONE[what], 303);
    };
  }

  app.get<{ Querystring: { done?: unknown } }>('/account', async (request, reply) => {
    const user = await getSessionUser(request);
    if (!user) return reply.header('cache-control', 'no-store').redirect('/login', 303);
    return render(reply, user.sub, request.query.done === 'name' ? { notice: translate('account.saved_name') } : {});
  });

  app.get<{ Querystring: { why?: unknown } }>('/account/signed-out', async (request, reply) => {
    const why = request.query.why === 'password' ? 'password' : 'sessions';
    return page(reply, 'notice', { title: translate(SIGNED_OUT[why].title), body: translate(SIGNED_OUT[why].body), linkUrl: '/login', linkText: translate('login.submit') });
  });

  app.post('/account/profile', change('name', (accountId, body) => updateName(selfService, accountId, field(body.name))));
  app.post('/account/password', change('password', (accountId, body) => changePassword(selfService, accountId, { password: field(body.password), newPassword: field(body.new_password) })));
  app.post('/account/sessions', change('sessions', (accountId) => signOutEverywhere(selfService, accountId)));
}
