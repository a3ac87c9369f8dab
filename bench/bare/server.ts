/**
 * The baseline: bare oidc-provider (the version Gatehouse uses) with a minimal Redis adapter,
 * configured like Gatehouse's provider where it changes the work per request (src/oidc/provider.ts):
 * PKCE required, refresh tokens rotated on every use, opaque access tokens by default and ES256
 * JWT access tokens for the resource `ISSUER/clients/<client_id>`, RS256 ID tokens, the same
 * lifetimes and scopes, introspection limited to the token's own client.
 *
 * What is bare about it: its client and account live in memory (given by the bench in
 * BARE_CLIENTS / BARE_ACCOUNT), and it adds no headers, rate limits, metrics or pages.
 * Sign-in is the interaction API driven by the bench: `GET /interaction/:uid` signs the bench
 * account in and grants what the client asked for, without a page. Only for the bench.
 *
 *   PORT=... ISSUER=https://... REDIS_URL=... BARE_PREFIX=... BARE_CLIENTS='[...]' node bench/bare/server.ts
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors, type Configuration } from 'oidc-provider';
import { defaults } from '../../config/defaults.ts';
import { bareRedisAdapter } from './redis-adapter.ts';

const env = process.env;
const issuer = env.ISSUER!;
const redis = new Redis(env.REDIS_URL!, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
const account = JSON.parse(env.BARE_ACCOUNT!) as { sub: string; email: string; name: string };
const { ttl } = defaults;
const updatedAt = Math.floor(Date.now() / 1000);
const SCOPES = ['openid', 'offline_access', 'email', 'profile'];

async function signingKey(alg: 'RS256' | 'ES256') {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `bare-${alg}` };
}

const configuration: Configuration = {
  adapter: bareRedisAdapter(redis, env.BARE_PREFIX!) as unknown as Configuration['adapter'],
  clients: JSON.parse(env.BARE_CLIENTS!),
  jwks: { keys: [await signingKey('RS256'), await signingKey('ES256')] as never },
  cookies: { keys: [env.BARE_COOKIE_SECRET!] },
  async findAccount(_ctx, sub) {
    if (sub !== account.sub) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, email: account.email, email_verified: true, name: account.name, updated_at: updatedAt }),
    };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'updated_at'] },
  conformIdTokenClaims: false,
  scopes: SCOPES,
  responseTypes: ['code'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
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
  clientDefaults: { id_token_signed_response_alg: 'RS256', token_endpoint_auth_method: 'client_secret_basic' },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, resource, client) {
        if (resource !== `${issuer}/clients/${client.clientId}`) throw new errors.InvalidTarget();
        return { scope: client.scope ?? SCOPES.join(' '), audience: client.clientId, accessTokenTTL: ttl.accessToken, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  routes: { token: '/token', introspection: '/token/introspection', revocation: '/token/revocation', userinfo: '/me', jwks: '/jwks', authorization: '/auth' },
};

const provider = new Provider(issuer, configuration);
provider.proxy = true;
const callback = provider.callback();

/** The interaction API: sign the bench account in, then grant what was asked. */
async function interaction(req: Parameters<typeof callback>[0], res: Parameters<typeof callback>[1]) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: account.sub, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? (await provider.Grant.find(details.grantId))!
    : new provider.Grant({ accountId: account.sub, clientId: String(details.params.client_id) });
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
  return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/interaction/')) {
    interaction(req, res).catch((err: Error) => {
      res.statusCode = 500;
      res.end(err.message);
    });
    return;
  }
  callback(req, res);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  redis.disconnect();
});
