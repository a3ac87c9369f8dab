import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { json, runCli } from '../helpers/cli.ts';
import { authorize, createUser, rpConfig } from '../helpers/fixtures.ts';
import { useServer } from '../helpers/server.ts';

// The CLI runs beside a running server, the way an admin uses it: on the embedded default it
// attaches to the server's database instead of opening the data folder a second time.
// CI runs the whole suite on Postgres+Redis and again on the embedded default: each mode once.
const modes = process.env.DATABASE_URL ? ['postgres'] : ['embedded'];

for (const mode of modes) {
  describe(`gatehouse CLI beside a running server (${mode})`, () => {
    const { server, storage } = useServer({ storage: mode === 'embedded' ? { embedded: true, redis: false } : { redis: false } });

    test('user create, client create/list/show/delete, and a sign-in with what they made', async () => {
      const env = storage.env;
      const user = json(await runCli(['user', 'create', '--email', 'Cli.User@Example.com', '--password', 'a long enough password', '--name', 'Cli', '--verified'], env));
      assert.equal(user.email, 'Cli.User@Example.com');
      assert.match(String(user.id), /^[0-9a-f-]{36}$/);

      const client = json<ClientMetadata>(await runCli(['client', 'create', '--name', 'CLI app', '--redirect-uri', 'http://127.0.0.1:9/cb', '--redirect-uri', 'http://127.0.0.1:9/cb2'], env));
      assert.equal(Object.keys(client)[0], 'client_id');
      assert.equal(Object.keys(client)[1], 'client_secret');
      assert.deepEqual(client.redirect_uris, ['http://127.0.0.1:9/cb', 'http://127.0.0.1:9/cb2']);
      assert.deepEqual(client.grant_types, ['authorization_code', 'refresh_token']);

      const pub = json<ClientMetadata>(await runCli(['client', 'create', '--name', 'SPA', '--redirect-uri', 'http://127.0.0.1:9/spa', '--public'], env));
      assert.equal(pub.client_secret, undefined);
      assert.equal(pub.token_endpoint_auth_method, 'none');

      const listed = json<ClientMetadata[]>(await runCli(['client', 'list'], env));
      const ids = listed.map((c) => c.client_id);
      assert.ok(ids.includes(client.client_id) && ids.includes(pub.client_id));
      assert.ok(listed.every((c) => c.client_secret === undefined), 'list never prints secrets');
      assert.equal(json<ClientMetadata>(await runCli(['client', 'show', client.client_id], env)).client_secret, client.client_secret);
      assert.equal(json<ClientMetadata>(await runCli(['client', 'show', client.client_id], env)).client_name, 'CLI app');

      // What the CLI made, the running server uses.
      const config = await rpConfig(server, client);
      const { callbackUrl, verifier, state } = await authorize(server, config, { email: 'cli.user@example.com', password: 'a long enough password' });
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
      assert.ok(tokens.id_token);

      assert.deepEqual(json(await runCli(['client', 'delete', pub.client_id], env)), { client_id: pub.client_id, deleted: true });
      const gone = await runCli(['client', 'show', pub.client_id], env);
      assert.notEqual(gone.code, 0);
      assert.equal(gone.stdout, '');
      assert.match(gone.stderr, /no client with id/);
    });

    test('bad input: one line on stderr, non-zero exit, nothing on stdout', async () => {
      const cases = [
        ['client', 'create', '--name', 'x'],
        ['client', 'create', '--name', 'x', '--redirect-uri', 'not a url'],
        ['client', 'create', '--name', 'x', '--redirect-uri', 'http://a/cb', '--public', '--grant-types', 'client_credentials'],
        ['user', 'create', '--email', 'not-an-email', '--password', 'long enough password'],
        ['user', 'create', '--email', 'short@example.com', '--password', 'short'],
        ['client', 'create', '--bogus-flag'],
        ['nonsense'],
      ];
      for (const args of cases) {
        const r = await runCli(args, storage.env);
        assert.notEqual(r.code, 0, args.join(' '));
        assert.equal(r.stdout, '', args.join(' '));
        assert.match(r.stderr.split('\n')[0]!, /^gatehouse: /, args.join(' '));
      }
      const dup = await runCli(['user', 'create', '--email', 'dup@example.com', '--password', 'long enough password'], storage.env);
      assert.equal(dup.code, 0);
      const again = await runCli(['user', 'create', '--email', 'DUP@example.com', '--password', 'long enough password'], storage.env);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /already exists/);
    });

    test('logs go through pino to stderr, as the server logs; stdout holds the answer alone; an error stays one plain line', async () => {
      const env = { ...storage.env, LOG_LEVEL: 'info' };
      // pino's lines: level, time, pid, hostname, then the logger's name and the fields.
      const pinoLines = (stderr: string) =>
        stderr
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const parsed = JSON.parse(line) as Record<string, unknown>;
            assert.deepEqual(Object.keys(parsed).slice(0, 5), ['level', 'time', 'pid', 'hostname', 'name'], line);
            assert.equal(parsed.hostname, hostname());
            assert.equal(parsed.name, 'gatehouse-cli');
            return parsed;
          });
      const user = await createUser(server);
      const disabled = await runCli(['user', 'disable', user.email], env);
      assert.equal(json<{ disabled: boolean }>(disabled).disabled, true);
      const events = pinoLines(disabled.stderr).filter((l) => l.msg === 'security event');
      assert.ok(events.every((e) => e.level === 30));
      // The audit trail's change, then the account's own event.
      assert.deepEqual(events.map((e) => e.event), ['admin.user_updated', 'account.disabled']);

      const failed = await runCli(['user', 'disable', 'nobody@example.com'], env);
      assert.notEqual(failed.code, 0);
      assert.equal(failed.stdout, '');
      const lines = failed.stderr.trimEnd().split('\n');
      assert.equal(lines.at(-1), 'gatehouse: error: no account nobody@example.com');
      pinoLines(lines.slice(0, -1).join('\n'));
    });

    test('keys rotate: the server publishes the new key, signs with it, and keeps the old one', async () => {
      const client = json<ClientMetadata>(await runCli(['client', 'create', '--name', 'Keys', '--redirect-uri', 'http://127.0.0.1:9/cb'], storage.env));
      const user = json(await runCli(['user', 'create', '--email', 'keys@example.com', '--password', 'long enough password', '--verified'], storage.env));
      const oldKids = ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

      const rotated = json<{ kid: string }>(await runCli(['keys', 'rotate'], storage.env));
      assert.ok(!oldKids.includes(rotated.kid));
      // The server polls for new keys; refresh() is what the poll timer calls (it may have run already).
      await server.services.host.refresh();

      const kids = ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      assert.ok(kids.includes(rotated.kid));
      for (const kid of oldKids) assert.ok(kids.includes(kid), 'old keys stay published');

      const config = await rpConfig(server, client);
      const { callbackUrl, verifier, state } = await authorize(server, config, { email: String(user.email), password: 'long enough password' });
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
      assert.equal(decodeProtectedHeader(tokens.id_token!).kid, rotated.kid);
    });

    test('iat create gives a token that dynamic registration accepts', async () => {
      const { initial_access_token: iat } = json<{ initial_access_token: string }>(await runCli(['iat', 'create'], storage.env));
      const register = (token?: string) =>
        fetch(`${server.url}/reg`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ redirect_uris: ['https://rp.example/cb'], client_name: 'Dynamic' }),
        });
      assert.equal((await register()).status, 401);
      const res = await register(iat);
      assert.equal(res.status, 201);
      const body = (await res.json()) as { client_id: string; registration_access_token: string };
      assert.ok(body.client_id && body.registration_access_token);

      // Both bearer secrets are stored hashed: nothing in the store names or contains them.
      const { redis } = server.runtime;
      const stored = redis
        ? (await redis.keys(`${server.config.redisPrefix}*`)).join('\n') + (await Promise.all((await redis.keys(`${server.config.redisPrefix}*`)).map((k) => redis.get(k).catch(() => '')))).join('\n')
        : JSON.stringify(await server.services.knex('oidc_payloads').select('id', 'payload'));
      for (const secret of [iat, body.registration_access_token]) assert.ok(!stored.includes(secret), 'a bearer secret in the store');
      const management = await fetch(`${server.url}/reg/${body.client_id}`, { headers: { authorization: `Bearer ${body.registration_access_token}` } });
      assert.equal(management.status, 200, 'RFC 7592: the registration access token still reads the client');
      const firstParty = await fetch(`${server.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${json<{ initial_access_token: string }>(await runCli(['iat', 'create'], storage.env)).initial_access_token}` },
        body: JSON.stringify({ redirect_uris: ['https://rp.example/cb'], first_party: true }),
      });
      assert.equal(firstParty.status, 400, 'dynamic registration cannot make a first-party client');
    });
  });
}
