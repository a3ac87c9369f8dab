import type { JWK } from 'jose';
import type { Knex } from 'knex';
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.service.ts';
import { ADMIN_ROLE, claimsFor } from '../accounts/accounts.service.ts';
import { issuedBeforeRevocation } from '../accounts/revocation/revocation.repo.ts';
import { accountValidity } from '../accounts/validity.ts';
import { MFA_ACR, SUPPORTED_ACRS } from '../accounts/mfa/policy.ts';
import type { Config } from '../config.ts';
import { firstSupported, LOCALES, setLocale, translate } from '../i18n/locale.ts';
import type { ClientMetadata, ClientsRepo } from './clients.repo.ts';
import { clientMetadataProblems, describeProblems, newClientId } from './client-rules.ts';
import { withUnavailableStorage, type AdapterFactory } from './adapters/types.ts';

/** Renders a view of `views/` to an HTML string (the app's @fastify/view instance). */
export type Render = (view: string, data: Record<string, unknown>) => Promise<string>;

/** The pages oidc-provider shows itself at `/logout` (src/pages/logout). */
export type LogoutPages = Pick<NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>, 'logoutSource' | 'postLogoutSuccessSource'>;

export interface ProviderDeps {
  config: Config;
  accounts: Accounts;
  clients: ClientsRepo;
  adapter: AdapterFactory;
  jwks: JWK[];
  render: Render;
  /** Absent (the CLI, which serves no page): oidc-provider's own. */
  logoutPages?: LogoutPages;
  /**
   * What a stored client's metadata becomes as the provider loads it: first-party clients may
   * also come back to `/session/callback` (src/first-party/client-metadata.ts).
   */
  loadedClient?: (metadata: ClientMetadata | undefined) => ClientMetadata | undefined;
  /** Reads the account's revocation instant (issue 3: a password reset ends sessions and tokens). */
  knex: Knex;
}

/** The provider's own routes. `end_session` moves to `/logout`: `/session/*` is first-party. */
export const OIDC_ROUTES = {
  authorization: '/auth',
  end_session: '/logout',
  introspection: '/token/introspection',
  jwks: '/jwks',
  pushed_authorization_request: '/request',
  registration: '/reg',
  revocation: '/token/revocation',
  token: '/token',
  userinfo: '/me',
} as const;

export const SCOPES = ['openid', 'offline_access', 'email', 'profile'];

/**
 * The scope of the admin API (src/admin). Offered apart from SCOPES: a client gets it only when
 * an admin lists it in the client's `scope`, never by default, never through registration.
 */
export const ADMIN_SCOPE = 'admin';

/** Every scope the provider knows, the admin one included: what a client's `scope` may name. */
export const OFFERED_SCOPES = [...SCOPES, ADMIN_SCOPE];

/** Client metadata Gatehouse adds to RFC 7591's. */
const EXTRA_CLIENT_METADATA = ['first_party', 'client_description'];

/** The provider's routes a browser navigates to; on every other one an error is JSON, whatever `Accept` says. */
const BROWSER_ROUTES = new Set(['authorization', 'resume', 'end_session', 'end_session_confirm', 'end_session_success', 'code_verification', 'device_resume']);

function isRegistrationRequest(ctx: KoaContextWithOIDC | undefined) {
  const route = ctx?.oidc?.route;
  return route === 'registration' || route === 'client_update';
}

/** Builds the oidc-provider instance; no I/O happens here. */
export function createProvider({ config, accounts, clients, adapter, jwks, render, logoutPages, loadedClient = (m) => m, knex }: ProviderDeps): Provider {
  const { ttl } = config;

  // A session signed in before the account's sessions were revoked signs in again.
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('sessions_revoked', 'End-User authentication is required again', async (ctx) => {
      const { accountId, loginTs } = ctx.oidc.session ?? {};
      return Boolean(accountId && (await issuedBeforeRevocation(knex, accountId, [loginTs])));
    }),
  );
  // `acr_values` asking for a multi-factor sign-in (issue 13) is honoured, not merely voluntary
  // (OIDC Core §3.1.2.1 allows either): a session signed in with a password alone signs in again.
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('mfa_acr_requested', 'a multi-factor authentication is required', (ctx) => {
      const acr = (ctx.oidc.claims as { id_token?: { acr?: { values?: unknown; value?: unknown } } }).id_token?.acr;
      const asked = [acr?.values, acr?.value].flat();
      return Boolean(ctx.oidc.session?.accountId && asked.includes(MFA_ACR) && ctx.oidc.acr !== MFA_ACR);
    }),
  );

  // The Client model reads the clients table whatever stores the other models.
  // It goes through the same storage wrapper as the other models: a database that does not
  // answer is a 503 `temporarily_unavailable` on /token, not a 500 `server_error` (issue 15).
  const clientAdapter = withUnavailableStorage(() => ({
    find: async (id: string) => loadedClient(await clients.find(id)),
    upsert: (_id: string, payload: Record<string, unknown>) => clients.upsert(payload as never),
    destroy: async (id: string) => void (await clients.delete(id)),
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: async () => undefined,
    revokeByGrantId: async () => undefined,
  }) as never)('Client');
  const adapterFor = (name: string) => (name === 'Client' ? clientAdapter : adapter(name));

  const configuration: Configuration = {
    adapter: adapterFor as unknown as Configuration['adapter'],
    clients: [],
    jwks: { keys: jwks as never },
    cookies: {
      keys: config.secrets,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    async findAccount(_ctx, sub, token) {
      const account = await accounts.findById(sub);
      // Tokens issued, or stemming from a sign-in, before a revocation are void (src/accounts/validity.ts).
      const instants = token ? [token.iat, 'iiat' in token ? token.iiat : undefined, 'authTime' in token ? token.authTime : undefined] : [];
      if (!account || accountValidity(account, instants) !== 'valid') return undefined;
      return {
        accountId: account.id,
        claims: async (_use: string, scope: string) => claimsFor(account, new Set(scope.split(' '))) as { sub: string },
      };
    },
    acrValues: SUPPORTED_ACRS,
    claims: {
      // Every ID token says how the person signed in (src/pages/mfa): acr, and amr (RFC 8176).
      // oidc-provider adds them only when asked for; under `openid` they always are.
      openid: ['sub', 'acr', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'updated_at'],
    },
    // ID tokens carry the claims of the granted scopes, as Keycloak and Auth0 do and RP
    // libraries expect (OIDC Core §5.4 allows either; `true` would keep them to userinfo).
    conformIdTokenClaims: false,
    scopes: OFFERED_SCOPES,
    responseTypes: ['code'],
    // RFC 9700 §2.1.1: PKCE for every client, not only public ones (S256 is all v9 offers).
    pkce: { required: () => true },
    // RFC 9700 §4.14.2: rotate every refresh token on use, for every client.
    rotateRefreshToken: true,
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    ttl: {
      AccessToken: ttl.accessToken,
      AuthorizationCode: ttl.authorizationCode,
      ClientCredentials: ttl.clientCredentials,
      IdToken: ttl.idToken,
      Interaction: ttl.interaction,
      RefreshToken: ttl.refreshToken,
      Session: ttl.session,
      Grant: ttl.grant,
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: {
      properties: EXTRA_CLIENT_METADATA,
      validator(ctx, key, value, metadata) {
        if (key === 'first_party') {
          // Called once per extra property: the first one checks the whole client. Registration
          // gets every rule (client-rules.ts); a stored client loading is held to the one a
          // token depends on, so a client stored before a rule existed still loads.
          const problems = clientMetadataProblems(metadata as Record<string, unknown>, { scopes: OFFERED_SCOPES, issuer: config.issuer });
          // Only an admin allows a client the admin scope (CONTRACT.md "Admin API").
          const scope = (metadata as { scope?: unknown }).scope;
          if (isRegistrationRequest(ctx) && typeof scope === 'string' && scope.split(' ').includes(ADMIN_SCOPE)) {
            throw new errors.InvalidClientMetadata('the admin scope cannot be requested through dynamic registration');
          }
          const blocking = isRegistrationRequest(ctx) ? problems : problems.grant_types ? { grant_types: problems.grant_types } : {};
          if (blocking.redirect_uris || blocking.post_logout_redirect_uris) {
            // RFC 7591 §3.2.2: redirect URI problems have their own code (its fixed text replaced).
            throw Object.assign(new errors.InvalidRedirectUri(), { error_description: describeProblems(blocking) });
          }
          if (Object.keys(blocking).length) throw new errors.InvalidClientMetadata(describeProblems(blocking));
        }
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('first_party must be a boolean');
        }
        // Only an admin makes a client first-party: dynamic registration cannot.
        if (key === 'first_party' && value === true && isRegistrationRequest(ctx)) {
          throw new errors.InvalidClientMetadata('first_party cannot be set through dynamic registration');
        }
      },
    },
    // First-party clients never ask for consent: their grant is made here, covering what
    // they asked for, the way a product's own front end is trusted with its own users.
    async loadExistingGrant(ctx) {
      const { client, session, params } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || (client && session?.grantIdFor(client.clientId));
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (client?.metadata().first_party !== true || !session?.accountId) return existing;
      // An existing grant is widened too: a first-party client is never sent to consent, also
      // when it asks for more than before (its own API as resource, for /session/start).
      const grant = existing ?? new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      // The admin scope only for an admin: anyone else's is left out, so the consent page asks
      // for it and refuses it (src/pages/consent).
      const asked = String(params?.scope ?? 'openid').split(' ');
      const admin = asked.includes(ADMIN_SCOPE) && (await accounts.findById(session.accountId))?.roles.includes(ADMIN_ROLE);
      const scope = asked.filter((s) => s !== ADMIN_SCOPE || admin).join(' ');
      grant.addOIDCScope(scope);
      if (params?.claims) grant.addOIDCClaims(Object.keys(JSON.parse(String(params.claims)).id_token ?? {}));
      for (const resource of [params?.resource].flat()) if (typeof resource === 'string') grant.addResourceScope(resource, scope);
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    discovery: { ui_locales_supported: [...LOCALES] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // A client may introspect or revoke only tokens issued to it (RFC 7662 §4, RFC 7009 §2.1).
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      registration: { enabled: true, initialAccessToken: true, idFactory: newClientId },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      rpInitiatedLogout: { enabled: true, ...logoutPages },
      resourceIndicators: {
        enabled: true,
        // Without `resource`, tokens are for userinfo (opaque), as OIDC clients expect.
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        // A client may ask for itself as audience (the first-party API case) or for a
        // resource listed in its `resource_indicators`... kept to the former for now:
        // the resource `${issuer}/clients/${client_id}` names the client's own API.
        async getResourceServerInfo(_ctx, resource, client) {
          if (resource !== `${config.issuer}/clients/${client.clientId}`) throw new errors.InvalidTarget();
          return {
            scope: client.scope ?? SCOPES.join(' '),
            audience: client.clientId,
            accessTokenTTL: client.metadata().first_party === true ? config.firstParty.accessTokenTtlSeconds : ttl.accessToken,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    routes: OIDC_ROUTES,
    // The SSRF guard is a dispatcher oidc-provider puts in the options; dropping it is the opt-out.
    fetch: config.allowPrivateNetworkFetch
      ? (url: Parameters<typeof fetch>[0], options: RequestInit & { dispatcher?: unknown } = {}) => {
          delete options.dispatcher;
          return globalThis.fetch(url, options);
        }
      : undefined,
    async renderError(ctx, out) {
      // oidc-provider renders an error page for any caller whose Accept prefers HTML: a JSON
      // API (token, registration, introspection) answers its client in JSON all the same.
      if (!BROWSER_ROUTES.has(ctx.oidc?.route ?? '')) {
        ctx.type = 'json';
        ctx.body = out;
        return;
      }
      ctx.type = 'html';
      // The authorization request's own ui_locales (CONTRACT "Languages"), when it got that far.
      const asked = firstSupported(ctx.oidc?.params?.ui_locales);
      if (asked) setLocale(asked);
      ctx.body = await render('error', {
        title: translate('error.title'),
        code: out.error,
        reference: (ctx.req as typeof ctx.req & { requestId?: string }).requestId,
        // oidc-provider's descriptions are English protocol text for developers; the headline is the person's.
        message: out.error_description ?? translate('error.request_failed'),
      });
    },
  };

  const provider = new Provider(config.issuer, configuration);
  if (config.trustProxy) provider.proxy = true;
  return provider;
}
