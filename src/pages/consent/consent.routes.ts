import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import { createConsentsRepo } from '../../accounts/consents/consents.repo.ts';
import { AppError } from '../../errors.ts';
import { translate } from '../../http/views.ts';
import type { OidcHost } from '../../oidc/host.ts';
import { ADMIN_ROLE, type Accounts } from '../../accounts/accounts.service.ts';
import { ADMIN_SCOPE } from '../../oidc/provider.ts';
import { finishInteraction, interactionDetails, interactionParams } from '../interaction.ts';

/**
 * Consent (`POST /interaction/:uid/confirm`): the signed-in person allows a third-party client
 * what it asked for. The page itself is shown by GET /interaction/:uid (src/pages/login), which
 * is where oidc-provider sends the browser for every step; first-party clients never get here.
 */
export async function consentRoutes(
  scope: FastifyInstance,
  { host, selfService, accounts }: { host: OidcHost; selfService: { knex: Knex }; accounts: Pick<Accounts, 'findById'> },
) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  // /account lists the apps consented to from here (issue 12).
  const consents = createConsentsRepo(selfService.knex);
  // The form has no fields: what is granted is what the interaction asked for, never the body.
  app.post('/interaction/:uid/confirm', { schema: { params: interactionParams } }, async (request, reply) => {
    const interaction = await interactionDetails(host, request, reply);
    if (interaction.prompt.name !== 'consent' || !interaction.session) {
      throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    }
    const { Grant } = host.provider;
    const grant = interaction.grantId
      ? await Grant.find(interaction.grantId)
      : new Grant({ accountId: interaction.session.accountId, clientId: String(interaction.params.client_id) });
    if (!grant) throw new AppError('INTERACTION_STATE', 400, translate('error.interaction_expired'));
    const missing = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    // The admin scope (the admin API's) is granted only to accounts with the admin role (issue 11):
    // anyone else's request for it ends as access_denied, not as a token the API would refuse.
    if (missing.missingOIDCScope?.includes(ADMIN_SCOPE) && !(await accounts.findById(interaction.session.accountId))?.roles.includes(ADMIN_ROLE)) {
      return finishInteraction(host, request, reply, { error: 'access_denied', error_description: 'the admin scope is only for accounts with the admin role' });
    }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await consents.record(interaction.session.accountId, String(interaction.params.client_id), grantId);
    return finishInteraction(host, request, reply, { consent: { grantId } });
  });
}
