import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tcpProxy } from '../helpers/proxy.ts';
import { createStorage, startServer, TEST_REDIS_URL, type TestServer, type TestStorage } from '../helpers/server.ts';

describe('/healthz and /readyz', { skip: !TEST_REDIS_URL && 'needs REDIS_URL' }, () => {
  let storage: TestStorage;
  let server: TestServer;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  before(async () => {
    const redis = new URL(TEST_REDIS_URL!);
    proxy = await tcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    storage = await createStorage({ redis: true });
    storage.env.REDIS_URL = `redis://127.0.0.1:${proxy.port}`;
    server = await startServer(storage);
  });
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await storage?.drop();
  });

  test('ready while everything answers; 503 naming Redis when it stops; ready again after', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { failing: string[] }).failing, []);

    proxy.cut();
    const down = await fetch(`${server.url}/readyz`);
    assert.equal(down.status, 503);
    assert.deepEqual(((await down.json()) as { failing: string[] }).failing, ['redis']);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'alive even when a dependency is not');

    // OIDC storage in Redis is down: discovery still answers (no storage), a token request fails clearly.
    assert.equal((await fetch(`${server.url}/.well-known/openid-configuration`)).status, 200);

    proxy.resume();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await fetch(`${server.url}/readyz`)).status;
    }
    assert.equal(status, 200, 'ready again once Redis answers');
  });
});
