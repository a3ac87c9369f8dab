import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { createClient } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';

/** An initial access token, made the way `gatehouse iat create` makes one. */
async function initialAccessToken(server: TestServer) {
  const { provider } = server.services.host;
  return new provider.InitialAccessToken({ expiresIn: 600 }).save();
}

let caller = 0;
async function register(server: TestServer, metadata: Record<string, unknown>) {
  // Each registration from its own address (behind the trusted proxy): /reg is rate-limited per address.
  const res = await fetch(`${server.url}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await initialAccessToken(server)}`, 'x-forwarded-for': `203.0.113.${++caller}` },
    body: JSON.stringify({ client_name: 'Dynamic', redirect_uris: ['https://rp.example/cb'], ...metadata }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe(`one set of client rules for every path (${STORAGE})`, () => {
  const ctx = useServer({ env: { TRUST_PROXY: 'true' } });

  test('dynamic registration refuses a public client that asks for client_credentials (issue 15, finding 1)', async () => {
    const { status, body } = await register(ctx.server, {
      token_endpoint_auth_method: 'none',
      grant_types: ['client_credentials', 'authorization_code'],
      response_types: ['code'],
    });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_client_metadata');
    assert.match(body.error_description!, /grant_types/);

    // The same client without client_credentials is a fine public client.
    const ok = await register(ctx.server, { token_endpoint_auth_method: 'none' });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.client_secret, undefined);
    // ...and it gets no token on its own: client_credentials is not among its grants.
    const token = await fetch(`${ctx.server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: ok.body.client_id! }),
    });
    const answer = (await token.json()) as { error: string; error_description?: string; access_token?: string };
    assert.equal(token.status, 400);
    assert.equal(answer.error, 'invalid_request');
    assert.match(answer.error_description!, /grant type is not allowed/);
    assert.equal(answer.access_token, undefined);
  });

  test('a public client_credentials client stored before the rule existed cannot mint tokens', async () => {
    const confidential = await createClient(ctx.server, { grantTypes: ['client_credentials'], redirectUris: [] });
    // Made public behind the validation's back, as a registration before this fix could have.
    const { client_secret: _secret, ...rest } = confidential;
    await ctx.server.services.clients.upsert({ ...rest, token_endpoint_auth_method: 'none' });
    const token = await fetch(`${ctx.server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: confidential.client_id }),
    });
    const answer = (await token.json()) as { error: string; error_description?: string; access_token?: string };
    // The stored client no longer loads: no token, and the reason names the rule.
    assert.equal(token.status, 400);
    assert.equal(answer.access_token, undefined);
    assert.match(String(answer.error_description), /public client/);
  });

  test('dynamic registration refuses bad metadata, naming the field', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const goodJwk = publicKey.export({ format: 'jwk' });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ client_description: { nested: 'object' } }, /client_description/],
      [{ client_description: 'x'.repeat(50_000) }, /client_description/],
      [{ jwks: { keys: [{ ...goodJwk, n: 'AAAA' }] } }, /jwks/],
      [{ jwks: { keys: [{ kty: 'RSA', n: 'not base64!', e: 'AQAB' }] } }, /jwks/],
      [{ backchannel_logout_uri: 'http://rp.example/logout' }, /backchannel_logout_uri/],
      [{ redirect_uris: ['https://rp.example/cb#frag'] }, /redirect_uris/],
      [{ redirect_uris: ['https://*.rp.example/cb'] }, /redirect_uris/],
      [{ redirect_uris: ['https://user:pw@rp.example/cb'] }, /redirect_uris/],
      [{ redirect_uris: ['http://rp.example/cb'] }, /redirect_uris/],
      [{ post_logout_redirect_uris: ['http://rp.example/'] }, /post_logout_redirect_uris/],
      [{ scope: 'openid admin-everything' }, /scope/],
      // Only an admin allows a client the admin API (issue 11).
      [{ scope: 'openid admin' }, /admin scope/],
    ];
    for (const [metadata, field] of cases) {
      const { status, body } = await register(ctx.server, metadata);
      assert.equal(status, 400, JSON.stringify(metadata).slice(0, 80));
      // RFC 7591 §3.2.2: redirect URI problems have their own error code.
      assert.equal(body.error, /redirect_uris/.test(field.source) ? 'invalid_redirect_uri' : 'invalid_client_metadata');
      assert.match(body.error_description!, field, JSON.stringify(metadata).slice(0, 80));
    }
    // Loopback http, a real key and an https back-channel URI are all fine.
    const ok = await register(ctx.server, {
      redirect_uris: ['http://127.0.0.1:8080/cb', 'https://rp.example/cb'],
      jwks: { keys: [goodJwk] },
      backchannel_logout_uri: 'https://rp.example/logout',
      client_description: 'An app',
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('the admin path applies the same rules', async () => {
    await assert.rejects(createClient(ctx.server, { public: true, grantTypes: ['client_credentials'], redirectUris: [] }), /grant_types/);
    await assert.rejects(createClient(ctx.server, { redirectUris: ['http://rp.example/cb'] }), /redirect_uris/);
    await assert.rejects(createClient(ctx.server, { backchannelLogoutUri: 'http://rp.example/logout' }), /backchannel_logout_uri/);
    await assert.rejects(createClient(ctx.server, { scope: 'openid nope' }), /scope/);
  });
});

describe('client ids', () => {
  test('never start with "-" (a command line would read one as an option), whoever makes the client', async () => {
    const { newClientId } = await import('../../src/oidc/client-rules.ts');
    const ids = Array.from({ length: 5000 }, newClientId);
    assert.ok(ids.every((id) => /^[A-Za-z0-9][A-Za-z0-9_-]{15}$/.test(id)), ids.find((id) => !/^[A-Za-z0-9]/.test(id)));
    assert.equal(new Set(ids).size, ids.length);
  });
});
