import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../helpers/fixtures.ts';
import { tcpProxy } from '../helpers/proxy.ts';
import { createStorage, startServer, TEST_DATABASE_URL, TEST_REDIS_URL, type TestServer, type TestStorage } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';

// Issue 15, finding 2: one answer for "a store is down". On OAuth endpoints RFC 6749's
// `temporarily_unavailable` (§4.1.2.1, §5.2 style JSON) with 503; on pages the error page;
// both say when to retry (RFC 9110 §10.2.3 Retry-After).

const basic = (c: ClientMetadata) => `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;
const form = (c: ClientMetadata) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c) });

async function assertOAuthUnavailable(res: Response, what: string) {
  const text = await res.text();
  assert.equal(res.status, 503, `${what}: ${res.status} ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, what);
  const body = JSON.parse(text) as { error: string; error_description?: string };
  assert.equal(body.error, 'temporarily_unavailable', `${what}: ${text}`);
  assert.ok(body.error_description, `${what}: says why`);
  assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, `${what}: Retry-After`);
}

describe('Postgres down: the token endpoints say temporarily_unavailable', { skip: !TEST_DATABASE_URL && 'needs DATABASE_URL' }, () => {
  let storage: TestStorage;
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let machine: ClientMetadata;
  before(async () => {
    storage = await createStorage({ redis: false });
    const url = new URL(storage.env.DATABASE_URL!);
    proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    storage.env.DATABASE_URL = url.toString();
    server = await startServer(storage);
    machine = await createClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' });
  });
  after(async () => {
    proxy?.resume();
    await server?.stop();
    await proxy?.close();
    await storage?.drop();
  });

  test('/token and /token/introspection: 503 temporarily_unavailable with Retry-After, then back', async () => {
    const ok = await fetch(`${server.url}/token`, { method: 'POST', headers: form(machine), body: 'grant_type=client_credentials' });
    assert.equal(ok.status, 200);
    const { access_token: accessToken } = (await ok.json()) as { access_token: string };

    proxy.cut();
    await assertOAuthUnavailable(await fetch(`${server.url}/token`, { method: 'POST', headers: form(machine), body: 'grant_type=client_credentials' }), '/token');
    await assertOAuthUnavailable(
      await fetch(`${server.url}/token/introspection`, { method: 'POST', headers: form(machine), body: `token=${accessToken}` }),
      '/token/introspection',
    );

    proxy.resume();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(`${server.url}/token`, { method: 'POST', headers: form(machine), body: 'grant_type=client_credentials' })).status;
    }
    assert.equal(status, 200, 'tokens again once Postgres answers');
  });
});

describe('Redis down: OAuth endpoints say temporarily_unavailable, pages show the error page', { skip: !TEST_REDIS_URL && 'needs REDIS_URL' }, () => {
  let storage: TestStorage;
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let machine: ClientMetadata;
  before(async () => {
    const redis = new URL(TEST_REDIS_URL!);
    proxy = await tcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    storage = await createStorage({ redis: true });
    storage.env.REDIS_URL = `redis://127.0.0.1:${proxy.port}`;
    server = await startServer(storage);
    machine = await createClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' });
  });
  after(async () => {
    proxy?.resume();
    await server?.stop();
    await proxy?.close();
    await storage?.drop();
  });

  test('the rate-limit store being down is not a SERVICE_UNAVAILABLE on OAuth endpoints', async () => {
    proxy.cut();
    await assertOAuthUnavailable(await fetch(`${server.url}/token`, { method: 'POST', headers: form(machine), body: 'grant_type=client_credentials' }), '/token');
    await assertOAuthUnavailable(
      await fetch(`${server.url}/token/revocation`, { method: 'POST', headers: form(machine), body: 'token=x' }),
      '/token/revocation',
    );
    // A JSON API even to a caller that also accepts HTML.
    await assertOAuthUnavailable(
      await fetch(`${server.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/html,application/json' }, body: '{}' }),
      '/reg',
    );

    const page = await fetch(`${server.url}/forgot-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: 'email=someone%40example.com',
    });
    assert.equal(page.status, 503);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/, 'a page for a browser');
    assert.match(page.headers.get('retry-after') ?? '', /^\d+$/, 'the page says when to retry');
    proxy.resume();
  });
});
