import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { base64url, decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { AccessTokenError, accessTokenPlugin, createAccessTokenVerifier } from '../../src/first-party/resource-server.ts';
import { mintAccessToken } from '../../src/first-party/tokens.ts';
import { rotateSigningKeys } from '../../src/oidc/keys.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { authorize, createClient, createUser, rpConfig, type TestUser } from '../helpers/fixtures.ts';
import { freePort, STORAGE, useServer } from '../helpers/server.ts';
import { call, setCookies, signIn } from './support.ts';

const APP_ORIGIN = 'http://127.0.0.1:9';

function rejectsWith(reason: AccessTokenError['reason']) {
  return (err: unknown) => {
    assert.ok(err instanceof AccessTokenError, `an AccessTokenError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    return true;
  };
}

describe(`the resource-server helper (${STORAGE})`, () => {
  const { server } = useServer();
  let user: TestUser;
  let client: ClientMetadata;
  let other: ClientMetadata;
  let token: string;
  let verify: ReturnType<typeof createAccessTokenVerifier>;

  /** A token with the claims of `token` but the header and signature an attacker chooses. */
  const claims = () => decodeJwt(token);

  before(async () => {
    user = await createUser(server);
    client = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/app`] });
    other = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/other`], public: true });
    const { landed } = await signIn(server, client, user);
    token = setCookies(landed.headers).get('gatehouse_at')!.value;
    verify = createAccessTokenVerifier({ issuer: server.url, audience: client.client_id, jwksCooldownSeconds: 0 });
  });

  test('accepts the access token of the first-party sign-in', async () => {
    const verified = await verify(token);
    assert.equal(verified.sub, user.id);
    assert.equal(verified.client_id, client.client_id);
  });

  test('rejects alg: none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid }));
    const unsigned = `${header}.${base64url.encode(JSON.stringify(claims()))}.`;
    await assert.rejects(verify(unsigned), rejectsWith('algorithm'));
  });

  test('rejects an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const { kid } = decodeProtectedHeader(token);
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: JWK[] };
    const jwk = jwks.keys.find((k) => k.kid === kid)!;
    const pem = await exportSPKI((await importJWK(jwk, 'ES256', { extractable: true })) as Parameters<typeof exportSPKI>[0]);
    for (const secret of [pem, JSON.stringify(jwk)]) {
      const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(new TextEncoder().encode(secret));
      await assert.rejects(verify(forged), rejectsWith('algorithm'));
    }
  });

  test('rejects an unknown kid, and a known kid over someone else\'s signature', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const unknown = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-a-gatehouse-key' }).sign(privateKey);
    await assert.rejects(verify(unknown), rejectsWith('unknown_key'));
    const impostor = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid }).sign(privateKey);
    await assert.rejects(verify(impostor), rejectsWith('signature'));
  });

  test('rejects a token for another audience and one from another issuer', async () => {
    const forOther = createAccessTokenVerifier({ issuer: server.url, audience: other.client_id });
    await assert.rejects(forOther(token), rejectsWith('audience'));
    const elsewhere = createAccessTokenVerifier({ issuer: 'https://login.example.com', audience: client.client_id, jwksUri: `${server.url}/jwks` });
    await assert.rejects(elsewhere(token), rejectsWith('issuer'));
  });

  test('rejects an ID token passed as an access token', async () => {
    // An ID token of the same issuer, for the same client as audience, ES256 with the very key
    // of the access tokens: only its type tells them apart (RFC 9068 §4).
    const rp = await createClient(server, { redirectUris: ['http://127.0.0.1:9/rp'] });
    const { client_id: clientId, ...metadata } = rp;
    await server.services.clients.upsert({ client_id: clientId, ...metadata, id_token_signed_response_alg: 'ES256' }, false);
    const config = await rpConfig(server, rp);
    const { callbackUrl, verifier, state } = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const idToken = tokens.id_token!;
    assert.equal(decodeProtectedHeader(idToken).alg, 'ES256');
    assert.equal(decodeJwt(idToken).aud, clientId);
    const forRp = createAccessTokenVerifier({ issuer: server.url, audience: clientId });
    await assert.rejects(forRp(idToken), rejectsWith('typ'));

    // The default RS256 ID token of the first-party client fails on the pinned algorithm.
    const fp = await rpConfig(server, client);
    const flow = await authorize(server, fp, user);
    const fpTokens = await oidc.authorizationCodeGrant(fp, flow.callbackUrl, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    await assert.rejects(verify(fpTokens.id_token!), rejectsWith('algorithm'));
  });

  test('rejects an expired token, and a tampered one', async () => {
    const { keys } = server.services.firstParty;
    const expired = await mintAccessToken(keys, {
      issuer: server.url,
      accountId: user.id,
      clientId: client.client_id,
      scope: 'openid',
      ttlSeconds: 60,
      now: Date.now() - 10 * 60 * 1000,
    });
    await assert.rejects(verify(expired.token), rejectsWith('expired'));
    const [h, , s] = token.split('.');
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...claims(), sub: 'someone-else' }))}.${s}`;
    await assert.rejects(verify(tampered), rejectsWith('signature'));
    await assert.rejects(verify('not-a-jwt'), rejectsWith('malformed'));
  });

  test('fetches the JWKS again when a token names a key it has not seen (after `keys rotate`)', async () => {
    const before = decodeProtectedHeader(token).kid;
    assert.equal((await verify(token)).sub, user.id, 'the key set is fetched and cached');
    const { knex, box, host } = server.services;
    await rotateSigningKeys(knex, box);
    assert.equal(await host.refresh(), true);
    const { landed } = await signIn(server, client, user);
    const fresh = setCookies(landed.headers).get('gatehouse_at')!.value;
    assert.notEqual(decodeProtectedHeader(fresh).kid, before, 'signed with the new key');
    assert.equal((await verify(fresh)).sub, user.id);
    assert.equal((await verify(token)).sub, user.id, 'the retired key still verifies during its grace period');
  });
});

describe(`the accessTokenPlugin protecting an API route (${STORAGE})`, () => {
  const { server } = useServer();
  let api: FastifyInstance;
  let apiUrl: string;
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    user = await createUser(server);
    client = await createClient(server, { firstParty: true, redirectUris: [`${APP_ORIGIN}/app`], public: true });

    // A first-party app's own API, as the README shows it (no @fastify/cookie: the plugin reads the header).
    api = Fastify();
    await api.register(accessTokenPlugin, { issuer: server.url, audience: client.client_id });
    api.get('/api/me', { preHandler: api.requireAccessToken }, async (request) => ({ sub: request.accessToken!.sub }));
    const port = await freePort();
    await api.listen({ port, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await api?.close();
  });

  test('answers 401 without a token, and serves the cookie or a bearer token', async () => {
    const none = await fetch(`${apiUrl}/api/me`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');

    const login = await call(server, '/session/login', { method: 'POST', origin: APP_ORIGIN, body: { client_id: client.client_id, login: user.email, password: user.password } });
    const at = login.cookies.get('gatehouse_at')!.value;
    const viaCookie = await fetch(`${apiUrl}/api/me`, { headers: { cookie: `other=1; gatehouse_at=${at}` } });
    assert.equal(viaCookie.status, 200);
    assert.deepEqual(await viaCookie.json(), { sub: user.id });
    const viaBearer = await fetch(`${apiUrl}/api/me`, { headers: { authorization: `Bearer ${at}` } });
    assert.equal(viaBearer.status, 200);

    const refresh = await fetch(`${apiUrl}/api/me`, { headers: { authorization: `Bearer ${login.cookies.get('gatehouse_rt')!.value}` } });
    assert.equal(refresh.status, 401, 'a refresh token is not an access token');
    assert.equal(refresh.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  });
});
