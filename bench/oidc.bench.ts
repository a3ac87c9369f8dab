/**
 * Throughput and memory of the core flows, on this machine, against a real server on a port.
 *   node bench/oidc.bench.ts              (embedded database, OIDC storage in Postgres)
 *   DATABASE_URL=... REDIS_URL=... node bench/oidc.bench.ts
 * Every loop is bounded; only 127.0.0.1 is contacted. Prints one JSON object.
 */
import * as oidc from 'openid-client';
import { authorize, createClient, createUser, rpConfig } from '../test/helpers/fixtures.ts';
import { createStorage, startServer, STORAGE } from '../test/helpers/server.ts';

async function measure(label: string, total: number, concurrency: number, run: (i: number) => Promise<unknown>) {
  let next = 0;
  const started = performance.now();
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await run(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    label,
    requests: total,
    concurrency,
    perSecond: Math.round(total / seconds),
    p50ms: Number(latencies[Math.floor(latencies.length * 0.5)]!.toFixed(1)),
    p95ms: Number(latencies[Math.floor(latencies.length * 0.95)]!.toFixed(1)),
  };
}

const storage = await createStorage();
// Rate limits would measure themselves; this bench measures the server behind them.
const server = await startServer(storage, { LOG_LEVEL: 'error' });
try {
  const user = await createUser(server);
  const client = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], redirectUris: ['http://127.0.0.1:9/cb'] });
  const config = await rpConfig(server, client);
  const rssBefore = process.memoryUsage().rss;
  const results = [
    await measure('discovery', 500, 8, () => fetch(`${server.url}/.well-known/openid-configuration`).then((r) => r.arrayBuffer())),
    await measure('jwks', 500, 8, () => fetch(`${server.url}/jwks`).then((r) => r.arrayBuffer())),
    await measure('client_credentials token', 100, 4, () => oidc.clientCredentialsGrant(config)),
    await measure('sign-in (login page, password, code, token)', 20, 2, async () => {
      const a = await authorize(server, config, user);
      return oidc.authorizationCodeGrant(config, a.callbackUrl, { pkceCodeVerifier: a.verifier, expectedState: a.state });
    }),
  ];
  const rssAfter = process.memoryUsage().rss;
  console.log(JSON.stringify({ storage: STORAGE, node: process.version, results, rssMiB: { before: Math.round(rssBefore / 2 ** 20), after: Math.round(rssAfter / 2 ** 20) } }, null, 2));
} finally {
  await server.stop();
  await storage.drop();
}
