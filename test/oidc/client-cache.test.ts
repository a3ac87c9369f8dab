import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { registerClient } from '../../src/oidc/clients.service.ts';
import type { ClientMetadata, ClientsRepo } from '../../src/oidc/clients.repo.ts';
import knexFactory, { type Knex } from 'knex';
import { createClientsRepo } from '../../src/oidc/clients.repo.ts';
import { createSecretBox } from '../../src/crypto/secret-box.ts';
import { createStorage, startServer, STORAGE, TEST_DATABASE_URL, TEST_REDIS_URL, type TestServer, type TestStorage } from '../helpers/server.ts';

/**
 * Issue 9: each instance serves clients from memory. A client deleted or re-keyed through
 * one instance must be refused by every other within the invalidation window (a second; the
 * poll allows 2 s). The token endpoint is what a client sees, so that is what is asserted.
 */
const WINDOW_MS = 2_000;

async function tokenRequest(server: TestServer, id: string, secret: string) {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=openid',
  });
  return { status: res.status, body: (await res.json()) as { error?: string; access_token?: string } };
}

/** Polls until the token endpoint refuses the credentials as invalid_client; returns how long it took. */
async function refusedWithin(server: TestServer, id: string, secret: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    const { status, body } = await tokenRequest(server, id, secret);
    if (status === 401 && body.error === 'invalid_client') return Date.now() - start;
    assert.equal(status, 200, `unexpected answer ${status} ${JSON.stringify(body)}`);
    assert.ok(Date.now() - start < WINDOW_MS, `still accepted after ${WINDOW_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const redis of TEST_REDIS_URL ? [true, false] : [false]) {
  const embedded = !TEST_DATABASE_URL;
  describe(`client cache across two instances (${STORAGE.replace('+redis', '')}${redis ? '+redis' : ''})`, () => {
    let storage: TestStorage;
    let reader: TestServer;
    // Postgres: a second server. Embedded: only one server may own the database, so the other
    // instance is what the CLI and the worker are: a connection through its socket server
    // (in another process; this process cannot attach to a database it owns).
    let writerServer: TestServer | undefined;
    let writerKnex: Knex | undefined;
    let writer: ClientsRepo;

    before(async () => {
      storage = await createStorage({ redis });
      reader = await startServer(storage);
      if (embedded) {
        writerKnex = knexFactory({ client: 'pg', connection: reader.runtime.database.url, pool: { min: 0, max: 1 } });
        writer = createClientsRepo(writerKnex, createSecretBox(reader.config.secrets));
      } else {
        writerServer = await startServer(storage);
        writer = writerServer.services.clients;
      }
    });
    after(async () => {
      await writerServer?.stop();
      await writerKnex?.destroy();
      await reader?.stop();
      await storage?.drop();
    });

    async function machineClient(): Promise<ClientMetadata & { client_secret: string }> {
      const client = await registerClient(
        { clients: writer, provider: reader.services.host.provider },
        { name: `Machine ${randomBytes(3).toString('hex')}`, grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' },
      );
      // Served (and so cached) by the reader before the change.
      for (let i = 0; i < 3; i++) {
        const { status, body } = await tokenRequest(reader, client.client_id, client.client_secret!);
        assert.equal(status, 200, JSON.stringify(body));
      }
      return client as ClientMetadata & { client_secret: string };
    }

    test('a client deleted through one instance is refused by the other', async () => {
      const client = await machineClient();
      assert.equal(await writer.delete(client.client_id), true);
      const took = await refusedWithin(reader, client.client_id, client.client_secret);
      assert.ok(took < WINDOW_MS);
    });

    test('a re-keyed client: the old secret is refused by the other instance, the new one works', async () => {
      const client = await machineClient();
      const stored = (await writer.find(client.client_id))!;
      const newSecret = randomBytes(32).toString('base64url');
      await writer.upsert({ ...stored, client_secret: newSecret });
      await refusedWithin(reader, client.client_id, client.client_secret);
      const fresh = await tokenRequest(reader, client.client_id, newSecret);
      assert.equal(fresh.status, 200);
      assert.ok(fresh.body.access_token);
    });
  });
}
