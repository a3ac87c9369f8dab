import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../helpers/fixtures.ts';
import { tcpProxy } from '../helpers/proxy.ts';
import { TEST_REDIS_URL, useServer } from '../helpers/server.ts';

/** CONTRACT.md: `{"status": "ok"|"unavailable", "checks": {"database": ..., "redis": ..., "jobs": ...}}`. */
interface Readiness {
  status: string;
  checks: Record<string, string>;
}
const failing = (r: Readiness) => Object.keys(r.checks).filter((name) => r.checks[name] !== 'ok');

describe('/healthz and /readyz', { skip: !TEST_REDIS_URL && 'needs REDIS_URL' }, () => {
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  before(async () => {
    const redis = new URL(TEST_REDIS_URL!);
    proxy = await tcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
  });
  // Redis through the proxy, so the test can cut it for this server alone.
  const { server } = useServer({ storage: { redis: true }, env: () => ({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` }) });
  after(async () => {
    await proxy?.close();
  });

  test('ready while everything answers; 503 naming Redis when it stops; ready again after', async () => {
    const machine = await createClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' });
    const basic = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${machine.client_id}:${machine.client_secret}`).toString('base64')}`,
    };
    const issued = await fetch(`${server.url}/token`, { method: 'POST', headers: basic, body: 'grant_type=client_credentials' });
    const { access_token: accessToken } = (await issued.json()) as { access_token: string };
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    const readyBody = (await ready.json()) as Readiness;
    assert.equal(readyBody.status, 'ok');
    assert.deepEqual(failing(readyBody), []);
    assert.deepEqual(Object.keys(readyBody.checks).sort(), ['database', 'jobs', 'redis'], 'database, Redis and the job store are checked');

    proxy.cut();
    const down = await fetch(`${server.url}/readyz`);
    assert.equal(down.status, 503);
    const downBody = (await down.json()) as Readiness;
    assert.deepEqual(downBody, { status: 'unavailable', checks: { database: 'ok', jobs: 'ok', redis: 'unavailable' } }, 'CONTRACT.md: names Redis');
    assert.deepEqual(failing(downBody), ['redis']);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'alive even when a dependency is not');

    // OIDC storage in Redis is down: discovery still answers (no storage), a token request fails clearly.
    assert.equal((await fetch(`${server.url}/.well-known/openid-configuration`)).status, 200);
    const token = await fetch(`${server.url}/token`, { method: 'POST', headers: basic, body: 'grant_type=client_credentials' });
    assert.equal(token.status, 503, 'the token endpoint says unavailable (its rate limit store is Redis too)');
    const userinfo = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(userinfo.status, 503);
    assert.equal(((await userinfo.json()) as { error: string }).error, 'temporarily_unavailable', 'RFC 6749: clients may retry');

    proxy.resume();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(`${server.url}/readyz`)).status;
    }
    assert.equal(status, 200, 'ready again once Redis answers');
  });
});

describe('/readyz when Postgres stops answering', { skip: !process.env.DATABASE_URL && 'needs DATABASE_URL' }, () => {
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  before(async () => {
    const url = new URL(process.env.DATABASE_URL!);
    proxy = await tcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  // The server's own database, reached through the proxy.
  const { server } = useServer({
    storage: { redis: false },
    env: ({ storage }) => {
      const url = new URL(storage.env.DATABASE_URL!);
      url.host = `127.0.0.1:${proxy.port}`;
      return { DATABASE_URL: url.toString() };
    },
  });
  after(async () => {
    await proxy?.close();
  });

  test('503 naming the database and the job store (both live in Postgres), a clear 503 for pages', async () => {
    try {
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      proxy.cut();
      const down = await fetch(`${server.url}/readyz`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as Readiness;
      assert.equal(body.status, 'unavailable');
      assert.ok(failing(body).includes('database'));
      const page = await fetch(`${server.url}/.well-known/openid-configuration`);
      assert.equal(page.status, 200, 'discovery needs no database');
      const token = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('someone:secret').toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      assert.ok(token.status >= 500 && token.status < 600, `a failing database is a 5xx, not a wrong answer (${token.status})`);
    } finally {
      proxy.resume();
    }
  });
});
