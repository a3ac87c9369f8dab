import type { FastifyInstance } from 'fastify';
import { issuedBefore } from '../accounts/revocation/revocation.repo.ts';
import type { OidcHost } from '../oidc/host.ts';
import { ensureBuiltinClient } from './builtin-client.ts';
import { firstPartyContext } from './context.ts';
import { SESSION_PREFIX } from './client-metadata.ts';
import { cookieOptions } from './cookies.ts';
import { createRefreshTokensRepo, type Family } from './refresh-tokens.repo.ts';
import { sessionRoutes } from './session.routes.ts';
import { createSessions } from './sessions.service.ts';
import { REFRESH_TOKEN_REUSE } from '../security/events.ts';

export interface FirstPartyOptions {
  host: OidcHost;
}

/**
 * First-party apps (issue 4): `/session/*` (Gatehouse's own `/login` is src/pages/login). Makes sure
 * Gatehouse's own first-party client exists (what `/login` signs in to `/account` with).
 */
export async function firstPartyRoutes(app: FastifyInstance, { host }: FirstPartyOptions) {
  const { config, clients, accounts, knex } = app.gatehouse;
  const { keys, repo: firstParty } = firstPartyContext(app);
  const repo = createRefreshTokensRepo(knex);
  const builtinClientId = config.firstParty.builtinClientId;

  await ensureBuiltinClient({ clients, provider: host.provider, issuer: config.issuer, clientId: builtinClientId });

  /** A revoked family ends the provider's SSO session and grant it came from (hosted login). */
  async function endProviderSession(family: Family) {
    const { provider } = host;
    if (family.revokedReason === 'reuse') {
      // RFC 9700 §4.14.2: a rotated refresh token came back; someone holds a copy.
      await app.gatehouse.security.events.record(REFRESH_TOKEN_REUSE, { accountId: family.accountId, details: { clientId: family.clientId } });
    }
    try {
      if (family.oidcSessionUid) await (await provider.Session.findByUid(family.oidcSessionUid))?.destroy();
      const grantId = family.oidcGrantId;
      if (grantId) {
        await (await provider.Grant.find(grantId))?.destroy();
        await Promise.all([provider.RefreshToken, provider.AccessToken, provider.AuthorizationCode].map((model) => model.revokeByGrantId(grantId)));
      }
    } catch (err) {
      // The family is revoked whatever happens here; the provider's session then ends on its own.
      app.log.warn({ err, family: family.id }, 'could not end the provider session of a first-party sign-in');
    }
  }

  const sessions = createSessions({
    repo,
    keys,
    issuer: config.issuer,
    secrets: config.secrets,
    graceSeconds: config.sessionRefreshGraceSeconds,
    ttl: config.firstParty,
    accountState: async (id, signedInAt) => {
      const account = await accounts.findById(id);
      if (!account || account.disabled) return 'disabled';
      return issuedBefore(account.sessionsRevokedAt, [Math.floor(signedInAt.getTime() / 1000)]) ? 'sessions_revoked' : 'active';
    },
    isFirstPartyClient: (id) => firstParty.isFirstParty(id),
    onRevoked: endProviderSession,
  });
  const cookies = cookieOptions(config);

  await app.register(sessionRoutes, { prefix: SESSION_PREFIX, sessions, cookies });
}
