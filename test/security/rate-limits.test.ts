import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';

// The token endpoint's limit counts per client, not per address (issue 10): one app server
// speaks for many users. Limits come from the configuration file, as a deployment sets them.
// Per address (no client, or a wrong secret) and per authenticated client: different numbers,
// so each test shows which budget it spent.
const TOKEN_MAX = 2;
const TOKEN_CLIENT_MAX = 3;
const INTROSPECTION_MAX = 2;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rate-limits-'));
const configFile = join(dir, 'gatehouse.yaml');
writeFileSync(
  configFile,
  `rateLimits:
  token: { max: ${TOKEN_MAX}, clientMax: ${TOKEN_CLIENT_MAX}, windowSeconds: 600 }
  introspectionRevocation: { max: 1, clientMax: ${INTROSPECTION_MAX}, windowSeconds: 600 }
`,
);
after(() => rmSync(dir, { recursive: true, force: true }));

/** RFC 6749 §2.3.1: client_secret_basic, the id and secret form-urlencoded first. */
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe(`token endpoint rate limit per client (${STORAGE})`, () => {
  const ctx = useServer({ env: { GATEHOUSE_CONFIG: configFile } });
  let a: ClientMetadata;
  let b: ClientMetadata;
  let c: ClientMetadata;

  before(async () => {
    const machine = { grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' };
    [a, b, c] = await Promise.all([createClient(ctx.server, machine), createClient(ctx.server, machine), createClient(ctx.server, machine)]);
  });

  async function token(authorization?: string) {
    const res = await fetch(`${ctx.server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body: 'grant_type=client_credentials',
    });
    const body = (await res.json()) as { access_token?: string; error?: string };
    return { status: res.status, body };
  }

  test('the configured limit applies', () => {
    assert.deepEqual(ctx.server.config.rateLimits.token, { max: TOKEN_MAX, clientMax: TOKEN_CLIENT_MAX, windowSeconds: 600 });
  });

  test('two clients from one address each get their full client budget; the next request of one is 429', async () => {
    for (let i = 0; i < TOKEN_CLIENT_MAX; i++) {
      for (const client of [a, b]) {
        const { status, body } = await token(basic(client.client_id, client.client_secret!));
        assert.equal(status, 200, `request ${i + 1} of ${client.client_id}: ${JSON.stringify(body)}`);
        assert.ok(body.access_token);
      }
    }
    const over = await token(basic(a.client_id, a.client_secret!));
    assert.equal(over.status, 429);
    assert.equal(over.body.error, 'RATE_LIMITED');
    assert.equal((await token(basic(b.client_id, b.client_secret!))).status, 429);
  });

  test("a wrong secret does not spend the client's budget: it counts against the address", async () => {
    // Someone who knows c's id (ids are public) but not its secret.
    for (let i = 0; i < TOKEN_MAX; i++) assert.equal((await token(basic(c.client_id, 'not-the-secret'))).status, 401);
    assert.equal((await token(basic(c.client_id, 'not-the-secret'))).status, 429, 'the address budget is spent');
    // Whatever else comes from that address without c's secret shares that budget: made-up ids,
    // a malformed header, no client authentication at all.
    assert.equal((await token(basic('made-up-client', 'x'))).status, 429);
    assert.equal((await token('Basic %%%')).status, 429);
    assert.equal((await token()).status, 429);
    // c itself, from the same address, still has all of its own (the larger client budget).
    for (let i = 0; i < TOKEN_CLIENT_MAX; i++) assert.equal((await token(basic(c.client_id, c.client_secret!))).status, 200);
    assert.equal((await token(basic(c.client_id, c.client_secret!))).status, 429);
  });

  test('introspection and revocation count per client too, with their own limit', async () => {
    const introspect = (client: ClientMetadata) =>
      fetch(`${ctx.server.url}/token/introspection`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.client_id, client.client_secret!) },
        body: 'token=not-a-token',
      }).then((res) => res.status);
    for (let i = 0; i < INTROSPECTION_MAX; i++) {
      assert.equal(await introspect(a), 200);
      assert.equal(await introspect(b), 200);
    }
    assert.equal(await introspect(a), 429);
    assert.equal(await introspect(c), 200, "another client's budget is its own");
  });
});
