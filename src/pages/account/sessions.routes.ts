import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsentsRepo } from '../../accounts/consents/consents.repo.ts';
import type { SelfService } from '../../accounts/self-service/self-service.ts';
import { signOutEverywhere } from '../../accounts/settings/settings.service.ts';
import { endProviderSessionOf, sessionEndUrl } from '../../first-party/browser-sign-out.ts';
import type { SessionUser } from '../../first-party/session.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { SESSIONS_REVOKED, type SecurityEvents } from '../../security/events.ts';
import { formBody, formText, NO_INPUT } from '../../http/schemas.ts';
import { auditOf, field } from '../page.ts';

export interface AccountSessionsOptions {
  host: OidcHost;
  selfService: SelfService;
  events: SecurityEvents;
  consents: ConsentsRepo;
  currentUser: (request: FastifyRequest) => Promise<SessionUser | undefined>;
}

/**
 * `/account`'s sign-out forms (issue 12), each a CSRF-checked POST:
 * - `/account/sign-out`: this browser, every Gatehouse session of it (provider and first-party);
 * - `/account/sessions/others`: every other session of the account, this one kept;
 * - `/account/apps/remove`: one app's access (its grants and their tokens).
 * "Sign out everywhere" is `/account/sessions` (account.routes.ts).
 */
export async function accountSessionRoutes(app: FastifyInstance, { host, selfService, events, consents, currentUser }: AccountSessionsOptions) {
  // The forms carry only `_csrf` (checked by the CSRF hook); `remove` names the app.
  app.post('/account/sign-out', { schema: NO_INPUT }, async (request, reply) => {
    await endProviderSessionOf(host.provider, request, reply);
    return reply.redirect(sessionEndUrl(request, 'out'), 303);
  });

  app.post('/account/sessions/others', { schema: NO_INPUT }, async (request, reply) => {
    const user = await currentUser(request);
    if (!user) return reply.redirect('/login', 303);
    // The account's revocation instant ends every session, grant and token, wherever it is;
    // /session/end then gives this browser a new first-party session.
    await signOutEverywhere(selfService, user.sub);
    await events.record(SESSIONS_REVOKED, auditOf(request, user.sub));
    return reply.redirect(sessionEndUrl(request, 'keep', user.sub), 303);
  });

  app.post<{ Body: { client_id?: unknown } }>('/account/apps/remove', { schema: { body: formBody({ client_id: formText.optional() }) } }, async (request: FastifyRequest<{ Body: { client_id?: unknown } }>, reply: FastifyReply) => {
    const user = await currentUser(request);
    if (!user) return reply.redirect('/login', 303);
    const clientId = field(request.body?.client_id);
    const { provider } = host;
    for (const grantId of clientId ? await consents.remove(user.sub, clientId) : []) {
      const grant = await provider.Grant.find(grantId);
      // Only the account's own grants: the row says so, the grant must agree.
      if (grant && grant.accountId !== user.sub) continue;
      await grant?.destroy();
      await Promise.all([provider.RefreshToken, provider.AccessToken, provider.AuthorizationCode].map((model) => model.revokeByGrantId(grantId)));
    }
    return reply.redirect('/account?done=app', 303);
  });
}
