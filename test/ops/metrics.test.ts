import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useServer } from '../helpers/server.ts';

describe('GET /metrics', () => {
  const ctx = useServer();

  test('Prometheus text with requests by route pattern, provider routes included, no raw ids', async () => {
    await fetch(`${ctx.server.url}/.well-known/openid-configuration`);
    await fetch(`${ctx.server.url}/.well-known/openid-configuration`);
    await fetch(`${ctx.server.url}/interaction/secret-looking-uid-123`);
    const res = await fetch(`${ctx.server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain/);
    const text = await res.text();
    assert.match(text, /gatehouse_http_requests_total\{method="GET",route="\/\.well-known\/openid-configuration",status="200"\} 2/);
    assert.match(text, /gatehouse_http_requests_total\{method="GET",route="\/interaction\/:uid",status="400"\} 1/);
    assert.doesNotMatch(text, /secret-looking-uid-123/);
    assert.match(text, /gatehouse_process_resident_memory_bytes \d+/);
    assert.match(text, /gatehouse_http_request_duration_seconds_bucket/);
  });
});
