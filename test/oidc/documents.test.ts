import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { rotateSigningKeys } from '../../src/oidc/keys.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

// Issue 9: discovery and the JWKS are answered from memory after the provider's first answer
// (src/oidc/documents.ts). What a client reads must be exactly what the provider says: the same
// bytes and headers, the new keys as soon as they are published, URLs for the host asked.

/** A GET with headers fetch() will not send (Host). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

const DISCOVERY = '/.well-known/openid-configuration';

describe(`discovery and JWKS from memory (${STORAGE})`, () => {
  const { server } = useServer();

  test('repeated answers are the same bytes and headers as the first, with the security headers and no no-store', async () => {
    for (const path of [DISCOVERY, '/jwks']) {
      const first = await get(`${server.url}${path}`);
      const second = await get(`${server.url}${path}`);
      const third = await get(`${server.url}${path}`);
      assert.equal(first.status, 200);
      assert.equal(second.body, first.body);
      assert.equal(third.body, first.body);
      for (const name of ['content-type', 'content-security-policy', 'x-content-type-options', 'x-frame-options', 'cache-control', 'content-length']) {
        assert.deepEqual(second.headers[name], first.headers[name], `${path}: ${name}`);
      }
      assert.match(String(first.headers['content-type']), /^application\/(jwk-set\+)?json/);
      assert.ok(first.headers['content-security-policy']);
      assert.notEqual(second.headers['cache-control'], 'no-store', 'discovery and keys may be cached by clients');
    }
    assert.equal((JSON.parse((await get(`${server.url}${DISCOVERY}`)).body) as { issuer: string }).issuer, server.url);
  });

  test('a request for another Host gets URLs for that host, and does not change what the next request gets', async () => {
    const port = new URL(server.url).port;
    const other = JSON.parse((await get(`${server.url}${DISCOVERY}`, { host: `localhost:${port}` })).body) as { token_endpoint: string };
    const mine = JSON.parse((await get(`${server.url}${DISCOVERY}`)).body) as { token_endpoint: string };
    assert.equal(mine.token_endpoint, `${server.url}/token`);
    assert.equal(new URL(other.token_endpoint).pathname, '/token');
    const again = JSON.parse((await get(`${server.url}${DISCOVERY}`, { host: `localhost:${port}` })).body) as { token_endpoint: string };
    assert.equal(again.token_endpoint, other.token_endpoint);
  });

  test('a cross-origin fetch gets the provider’s CORS answer', async () => {
    const res = await get(`${server.url}/jwks`, { origin: 'https://spa.example' });
    assert.equal(res.status, 200);
    assert.ok(res.headers['access-control-allow-origin'], 'CORS header present');
  });

  test('new signing keys are published at once when the provider reloads them', async () => {
    const before = (JSON.parse((await get(`${server.url}/jwks`)).body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    await rotateSigningKeys(server.services.knex, server.services.box);
    assert.equal(await server.services.host.refresh(), true);
    const after = (JSON.parse((await get(`${server.url}/jwks`)).body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    assert.ok(after.some((kid) => !before.includes(kid)), `a new key: ${after} vs ${before}`);
    for (const kid of before) assert.ok(after.includes(kid), 'the old key stays published');
  });
});
