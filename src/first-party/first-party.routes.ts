import type { FastifyInstance } from 'fastify';
import { accountValidity, epochSeconds } from '../accounts/validity.ts';
import { sessionEndRoutes } from './browser-sign-out.ts';
import { ensureBuiltinClient } from './builtin-client.ts';
import type { FirstPartyDeps } from './context.ts';
import { SESSION_PREFIX } from './client-metadata.ts';
import { cookieOptions } from './cookies.ts';
import { createRefreshTokensRepo, type Family } from './refresh-tokens.repo.ts';
import type { SessionReader } from './session.ts';
import { sessionRoutes } from './session.routes.ts';
import { createSessions } from './sessions.service.ts';
import { REFRESH_TOKEN_REUSE } from '../security/events.ts';
import type { Mfa } from '../accounts/mfa/mfa.ts';

export interface FirstPartyOptions extends FirstPartyDeps {
  reader: SessionReader;
  /** Whether a right password is enough (issue 13): POST /session/login issues no cookies when it is not. */
  mfa: Pick<Mfa, 'nextStep'>;
}

/**
 * First-party apps (issue 4): `/session/*` (Gatehouse's own `/login` is src/pages/login). Makes sure
 * Gatehouse's own first-party client exists (what `/login` signs in to `/account` with).
 */
export async function firstPartyRoutes(app: FastifyInstance, options: FirstPartyOptions) {
  const { config, host, clients, accounts, knex, events, context } = options;
  const repo = createRefreshTokensRepo(knex);
  const builtinClientId = config.firstParty.builtinClientId;

  await ensureBuiltinClient({ clients, provider: host.provider, issuer: config.issuer, clientId: builtinClientId });

  /** A revoked family ends the provider's SSO session and grant it came from (hosted login). */
  async function endProviderSession(family: Family) {
    const { provider } = host;
    if (family.revokedReason === 'reuse') {
      // RFC 9700 §4.14.2: a rotated refresh token came back; someone holds a copy.
      await events.record(REFRESH_TOKEN_REUSE, { accountId: family.accountId, details: { clientId: family.clientId } });
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
    keys: context.keys,
    issuer: config.issuer,
    secrets: config.secrets,
    graceSeconds: config.sessionRefreshGraceSeconds,
    ttl: config.firstParty,
    accountState: async (id, signedInAt) => accountValidity(await accounts.findById(id), [epochSeconds(signedInAt)]),
    isFirstPartyClient: (id) => context.repo.isFirstParty(id),
    onRevoked: endProviderSession,
  });
  const cookies = cookieOptions(config);

  await app.register(sessionRoutes, { ...options, prefix: SESSION_PREFIX, sessions, cookies });
  await app.register(sessionEndRoutes, { prefix: SESSION_PREFIX, sessions, cookies, accounts });
}
