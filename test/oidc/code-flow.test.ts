import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

// The whole code + PKCE flow with a real RP library, on the configured storage (Postgres and
// Redis in CI) and on the embedded default.
// CI runs the whole suite on Postgres+Redis and again on the embedded default: each mode once.
const modes = [STORAGE];

for (const mode of modes) {
  describe(`authorization code + PKCE with openid-client (${mode})`, () => {
    const { server } = useServer({ storage: mode === 'embedded' ? { embedded: true, redis: false } : {} });
    let user: TestUser;
    let config: oidc.Configuration;
    let clientId: string;

    before(async () => {
      user = await createUser(server, { name: 'Ada Lovelace', username: 'ada' });
      const client = await createClient(server);
      clientId = client.client_id;
      config = await rpConfig(server, client);
    });

    test('signs in, verifies the ID token, calls userinfo, refreshes, introspects and revokes', async () => {
      const { callbackUrl, verifier, state } = await authorize(server, config, user);
      assert.equal(callbackUrl.searchParams.get('iss'), server.url, 'RFC 9207 iss in the authorization response');

      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
      assert.ok(tokens.access_token);
      assert.ok(tokens.refresh_token, 'a refresh token is issued to a client allowed the refresh_token grant');

      // The ID token verifies against the published JWKS and carries the granted claims.
      const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks`));
      const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: clientId });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.sub, user.id);
      assert.equal(payload.email, user.email);
      assert.equal(payload.email_verified, true);
      assert.equal(payload.name, 'Ada Lovelace');
      assert.equal(payload.preferred_username, 'ada');

      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
      assert.equal(info.email, user.email);
      assert.equal(info.name, 'Ada Lovelace');

      // Refresh: a new refresh token every time; the old one is spent.
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.ok(refreshed.refresh_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);

      const active = await oidc.tokenIntrospection(config, refreshed.access_token);
      assert.equal(active.active, true);
      assert.equal(active.sub, user.id);
      assert.equal(active.client_id, clientId);

      await oidc.tokenRevocation(config, refreshed.refresh_token!);
      const afterRevoke = await oidc.tokenIntrospection(config, refreshed.refresh_token!);
      assert.equal(afterRevoke.active, false);
      await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    });

    test('replaying a rotated refresh token fails and revokes the whole grant', async () => {
      const { callbackUrl, verifier, state } = await authorize(server, config, user);
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
      const next = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      // RFC 9700 §4.14.2: the attacker's replay also kills the legitimate successor.
      await assert.rejects(oidc.refreshTokenGrant(config, next.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    });

    test('a resource indicator for the client itself yields an RFC 9068 JWT access token', async () => {
      const resource = `${server.url}/clients/${clientId}`;
      const { callbackUrl, verifier, state } = await authorize(server, config, user, { extra: { resource } });
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }, { resource });
      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks`)), {
        issuer: server.url,
        audience: clientId,
        typ: 'at+jwt',
      });
      assert.equal(protectedHeader.alg, 'ES256');
      assert.equal(payload.sub, user.id);
    });

    test('client credentials', async () => {
      const machine = await createClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' });
      const cc = await rpConfig(server, machine);
      const tokens = await oidc.clientCredentialsGrant(cc);
      assert.ok(tokens.access_token);
      assert.equal((await oidc.tokenIntrospection(cc, tokens.access_token)).active, true);
    });
  });
}
