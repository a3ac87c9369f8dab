import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../../errors.ts';
import { getSessionUser } from '../../first-party/session.ts';
import { translate } from '../../http/views.ts';
import type { SelfServicePagesOptions } from '../self-service/self-service.routes.ts';
import { field, page } from '../self-service/pages.ts';
import { changePassword, signOutOtherSessions, updateName } from './settings.service.ts';

const DONE = { name: 'account.saved_name', password: 'account.saved_password', sessions: 'account.saved_sessions' } as const;

/**
 * `/account`: the signed-in user (the first-party `gatehouse_at` cookie, issue 4) changes name
 * and password and signs out other sessions. Not signed in: `/login`, which comes back here.
 */
export async function settingsRoutes(app: FastifyInstance, { selfService }: SelfServicePagesOptions) {
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
      return reply.header('cache-control', 'no-store').redirect(`/account?done=${what}`, 303);
    };
  }

  app.get<{ Querystring: { done?: unknown } }>('/account', async (request, reply) => {
    const user = await getSessionUser(request);
    if (!user) return reply.header('cache-control', 'no-store').redirect('/login', 303);
    const done = typeof request.query.done === 'string' && Object.hasOwn(DONE, request.query.done) ? DONE[request.query.done as keyof typeof DONE] : undefined;
    return render(reply, user.sub, done ? { notice: translate(done) } : {});
  });

  app.post('/account/profile', change('name', (accountId, body) => updateName(selfService, accountId, field(body.name))));
  app.post('/account/password', change('password', (accountId, body) => changePassword(selfService, accountId, { password: field(body.password), newPassword: field(body.new_password) })));
  app.post('/account/sessions', change('sessions', (accountId) => signOutOtherSessions(selfService, accountId)));
}
