import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useServer } from '../helpers/server.ts';

/**
 * Issue 9: the security headers are computed once at start instead of by helmet on every
 * response. Every header and value must stay what it was: these are the full header sets
 * Gatehouse sent before that change (captured from it), less the ones that vary per response.
 */
const VARYING = new Set(['date', 'content-length', 'etag', 'set-cookie', 'keep-alive', 'connection', 'x-request-id', 'last-modified']);

async function headersOf(url: string, init?: RequestInit): Promise<Record<string, string>> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  await res.arrayBuffer();
  const out: Record<string, string> = { status: String(res.status) };
  for (const [name, value] of res.headers) if (!VARYING.has(name)) out[name] = value;
  return out;
}

const EXPECTED: Record<string, Record<string, string>> = {
  page: {
    status: '200',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data: https: http://localhost:* http://127.0.0.1:*;font-src 'self';connect-src 'self';frame-src 'none';frame-ancestors 'none';object-src 'none';base-uri 'none'",
    'content-type': 'text/html; charset=utf-8',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  },
  json: {
    status: '200',
    'access-control-allow-origin': '*',
    'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    'content-type': 'application/json; charset=utf-8',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'same-origin',
    vary: 'Origin',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  },
  tokenError: {
    status: '400',
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'WWW-Authenticate',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    'content-type': 'application/json; charset=utf-8',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'same-origin',
    vary: 'Origin',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  },
  htmlError: {
    status: '400',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    'content-type': 'text/html; charset=utf-8',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  },
};

describe('security headers, before and after precomputing them', () => {
  const ctx = useServer();

  test('a hosted page', async () => {
    const got = await headersOf(`${ctx.server.url}/forgot-password`);
    if (process.env.PRINT_HEADERS) console.log('PAGE', JSON.stringify(got));
    assert.deepEqual(got, EXPECTED.page);
  });

  test('a provider JSON response (discovery)', async () => {
    const got = await headersOf(`${ctx.server.url}/.well-known/openid-configuration`);
    if (process.env.PRINT_HEADERS) console.log('JSON', JSON.stringify(got));
    assert.deepEqual(got, EXPECTED.json);
  });

  test('a provider JSON error (token endpoint)', async () => {
    const got = await headersOf(`${ctx.server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    if (process.env.PRINT_HEADERS) console.log('TOKENERR', JSON.stringify(got));
    assert.deepEqual(got, EXPECTED.tokenError);
  });

  test('a provider HTML error page', async () => {
    const got = await headersOf(`${ctx.server.url}/auth?client_id=nobody&response_type=code&scope=openid`);
    if (process.env.PRINT_HEADERS) console.log('HTMLERR', JSON.stringify(got));
    assert.deepEqual(got, EXPECTED.htmlError);
  });

  // Issue 8: the routes no longer set no-store on their redirects; the headers plugin does.
  test('redirects of hosted pages are never stored', async () => {
    for (const path of ['/account', '/login']) {
      const got = await headersOf(`${ctx.server.url}${path}`);
      assert.equal(got.status, '303', path);
      assert.ok(got.location, path);
      assert.equal(got['cache-control'], 'no-store', path);
    }
  });
});
