import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createConsentsRepo } from '../../accounts/consents/consents.repo.ts';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { changePassword, signOutEverywhere, updateName } from '../../accounts/settings/settings.service.ts';
import { ValidationError } from '../../errors.ts';
import type { SessionUser } from '../../first-party/session.ts';
import { failedSchema, formBody, formRoute, formText, queryText } from '../../http/schemas.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { PASSWORD_CHANGED, SESSIONS_REVOKED, type SecurityEvents, type SecurityEventType } from '../../security/events.ts';
import { auditOf, field, page } from '../page.ts';
import { ACCOUNT_TEMPLATES, accountView, doneNotice, signedOut } from './account.view.ts';
import { accountSessionRoutes } from './sessions.routes.ts';
import { accountFactorsRoutes } from './factors.routes.ts';
import type { Mfa } from '../../accounts/mfa/mfa.ts';
import type { Passkeys } from '../../accounts/passkeys/passkeys.service.ts';
import { PASSKEY_SCRIPTS } from '../passkeys/passkeys.routes.ts';

export interface AccountOptions {
  host: OidcHost;
  selfService: SelfService;
  events: SecurityEvents;
  /** The person signed in through the first-party `gatehouse_at` cookie (src/first-party), if any. */
  currentUser: (request: FastifyRequest) => Promise<SessionUser | undefined>;
  /** The account's second factors (issue 13), listed here and managed in factors.routes.ts. */
  mfa: Mfa;
  passkeys: Passkeys;
}

/** A passkey as the list shows it: its name and when it was last used (UTC, to the minute). */
const passkeyItem = (p: { id: string; name: string; lastUsedAt: Date | null }) => ({
  id: p.id,
  name: p.name,
  lastUsed: p.lastUsedAt ? `${p.lastUsedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC` : undefined,
});

/** Where each change leads: the name back to the page; the others end this session too. */
const DONE = { name: '/account?done=name', password: '/account/signed-out?why=password', sessions: '/account/signed-out?why=sessions' } as const;
const AUDITED: Partial<Record<keyof typeof DONE, SecurityEventType>> = { password: PASSWORD_CHANGED, sessions: SESSIONS_REVOKED };

// What each form posts (besides `_csrf`); the rules of a good name or password are src/accounts/settings'.
const FORMS = {
  name: { body: formBody({ name: formText.optional() }) },
  password: { body: formBody({ password: formText.optional(), new_password: formText.optional() }) },
  sessions: { body: formBody({}) },
};
// Where the account page says what just happened: anything else shows the plain page.
const pageSchema = { querystring: z.looseObject({ done: queryText.optional() }) };
const signedOutSchema = { querystring: z.looseObject({ why: queryText.optional() }) };

/**
 * `/account`: the signed-in user (the first-party `gatehouse_at` cookie, issue 4) changes name
 * and password and signs out of other sessions. Not signed in: `/login`, which comes back here.
 *
 * A password change and "sign out of other sessions" both set the account's revocation instant
 * (src/accounts/revocation), which first-party sessions honour too: the session making the
 * change ends with the others, and the person signs in again.
 */
export async function accountRoutes(scope: FastifyInstance, { host, selfService, events, currentUser, mfa, passkeys }: AccountOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const toLogin = (reply: FastifyReply) => reply.redirect('/login', 303);
  const consents = createConsentsRepo(selfService.knex);

  /** The apps the account consented to that still exist, by name. */
  async function appsOf(accountId: string) {
    const clients = await Promise.all((await consents.clients(accountId)).map((id) => host.provider.Client.find(id)));
    return clients.flatMap((c) => (c ? [{ clientId: c.clientId, name: c.clientName ?? c.clientId }] : []));
  }

  async function render(reply: FastifyReply, accountId: string, extra: Record<string, unknown> = {}, status = 200) {
    const account = await selfService.accounts.findById(accountId);
    if (!account) return toLogin(reply);
    return page(reply, ACCOUNT_TEMPLATES.account, accountView(account, {
      apps: await appsOf(accountId),
      mfa: await mfa.factors.status(accountId),
      passkeys: (await passkeys.list(accountId)).map(passkeyItem),
      scripts: PASSKEY_SCRIPTS,
      ...extra,
    }), status);
  }

  /** Runs a change for the signed-in user: 303 back to /account when done, the page with errors when not. */
  function change(what: keyof typeof DONE, run: (accountId: string, body: Record<string, unknown>) => Promise<void>) {
    return async (request: FastifyRequest<{ Body: Record<string, unknown> }>, reply: FastifyReply) => {
      const user = await currentUser(request);
      if (!user) return toLogin(reply);
      try {
        failedSchema(request);
        await run(user.sub, request.body ?? {});
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const values = what === 'name' ? { values: { name: field(request.body?.name) } } : {};
        return render(reply, user.sub, { error: err.message, fields: err.fields ?? {}, ...values }, 400);
      }
      const event = AUDITED[what];
      if (event) await events.record(event, auditOf(request, user.sub));
      return reply.redirect(DONE[what], 303);
    };
  }

  app.get('/account', { schema: pageSchema }, async (request, reply) => {
    const user = await currentUser(request);
    if (!user) return toLogin(reply);
    return render(reply, user.sub, doneNotice(request.query.done));
  });

  app.get('/account/signed-out', { schema: signedOutSchema }, async (request, reply) => {
    const why = request.query.why;
    return page(reply, ACCOUNT_TEMPLATES.notice, signedOut(why === 'password' || why === 'signed-out' ? why : 'sessions'));
  });

  app.post('/account/profile', formRoute(FORMS.name), change('name', (accountId, body) => updateName(selfService, accountId, field(body.name))));
  app.post('/account/password', formRoute(FORMS.password), change('password', (accountId, body) => changePassword(selfService, accountId, { password: field(body.password), newPassword: field(body.new_password) })));
  app.post('/account/sessions', formRoute(FORMS.sessions), change('sessions', (accountId) => signOutEverywhere(selfService, accountId)));
  await app.register(accountSessionRoutes, { host, selfService, events, consents, currentUser });
  await app.register(accountFactorsRoutes, { events, mfa, currentUser });
}
