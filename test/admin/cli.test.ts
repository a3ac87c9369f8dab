import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { json, runCli, type CliResult } from '../helpers/cli.ts';
import { authorize, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { clientToken } from './support.ts';

const lines = (r: CliResult) => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe(`admin CLI beside a running server (${STORAGE})`, () => {
  const { server, storage } = useServer();
  const cli = (...args: string[]) => runCli(args, storage.env);

  /** The authorization code flow of `client` for a new user, through openid-client. */
  const codeFlow = async (config: oidc.Configuration) => {
    const user = await createUser(server);
    const { callbackUrl, verifier, state } = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal(tokens.claims()?.sub, user.id);
  };

  test('client update and rotate-secret: the new lists replace the old, the old secret stops at the token endpoint; each change audited as cli', async () => {
    const made = json<ClientMetadata>(await cli('client', 'create', '--name', 'CLI RP', '--redirect-uri', 'http://127.0.0.1:9/old'));
    const updated = json<ClientMetadata>(
      await cli('client', 'update', made.client_id, '--name', 'CLI RP 2', '--redirect-uri', 'http://127.0.0.1:9/callback', '--redirect-uri', 'http://127.0.0.1:9/cb2', '--post-logout-redirect-uri', 'http://127.0.0.1:9/bye', '--scope', 'openid email profile'),
    );
    assert.equal(updated.client_name, 'CLI RP 2');
    assert.deepEqual(updated.redirect_uris, ['http://127.0.0.1:9/callback', 'http://127.0.0.1:9/cb2']);
    assert.deepEqual(updated.post_logout_redirect_uris, ['http://127.0.0.1:9/bye']);
    assert.equal(updated.scope, 'openid email profile');
    assert.ok(!('client_secret' in updated), 'no secret in the update answer');
    await codeFlow(await rpConfig(server, { ...updated, client_secret: made.client_secret }));

    const rotated = json<{ client_id: string; client_secret: string }>(await cli('client', 'rotate-secret', made.client_id));
    assert.deepEqual(Object.keys(rotated), ['client_id', 'client_secret']);
    assert.notEqual(rotated.client_secret, made.client_secret);
    // The CLI's write reaches the server's client cache as a notification (Redis or Postgres):
    // the old secret fails within the invalidation window, a second at most (issue 9).
    const written = Date.now();
    let old = await clientToken(server, made.client_id, made.client_secret!, 'openid');
    while (old.status !== 401 && Date.now() - written < 1000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      old = await clientToken(server, made.client_id, made.client_secret!, 'openid');
    }
    assert.equal(old.status, 401, `the old secret still works ${Date.now() - written} ms after the rotation`);
    assert.equal(old.body.error, 'invalid_client');
    await codeFlow(await rpConfig(server, { ...updated, client_secret: rotated.client_secret }));

    const events = await server.services.security.events.list({ limit: 100 });
    const mine = events.filter((e) => e.details.client_id === made.client_id);
    assert.deepEqual(mine.map((e) => e.type).sort(), ['admin.client_created', 'admin.client_secret_rotated', 'admin.client_updated']);
    assert.ok(mine.every((e) => e.details.by === 'cli' && /^gatehouse-cli/.test(e.userAgent ?? '')));
    const change = mine.find((e) => e.type === 'admin.client_updated')!.details.changes as Record<string, { before: unknown; after: unknown }>;
    assert.deepEqual(change.client_name, { before: 'CLI RP', after: 'CLI RP 2' });
    assert.deepEqual(change.redirect_uris, { before: ['http://127.0.0.1:9/old'], after: ['http://127.0.0.1:9/callback', 'http://127.0.0.1:9/cb2'] });
    const stored = JSON.stringify(events);
    assert.ok(!stored.includes(made.client_secret!) && !stored.includes(rotated.client_secret), 'never a secret in the trail');
  });

  test('a client from dynamic registration with `gatehouse iat create` completes a code flow', async () => {
    const { initial_access_token: iat } = json<{ initial_access_token: string }>(await cli('iat', 'create'));
    const config = await oidc.dynamicClientRegistration(
      new URL(server.url),
      { client_name: 'Dynamic RP', redirect_uris: ['https://rp.example/cb'], token_endpoint_auth_method: 'client_secret_basic' },
      undefined,
      { initialAccessToken: iat, execute: [oidc.allowInsecureRequests] },
    );
    assert.ok(config.clientMetadata().client_secret);
    await codeFlow(config);
  });

  test('user list, show, disable, enable, verify, set-roles: the account as JSON, never a password hash; audited as cli', async () => {
    const a = json<{ id: string; email: string }>(await cli('user', 'create', '--email', 'cli-zed@example.com', '--password', 'long enough password', '--name', 'Zed Cli'));
    await createUser(server, { name: 'Someone Else' });

    const listed = await cli('user', 'list', '--q', 'ZED');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(lines(listed).map((u) => u.id), [a.id]);
    assert.ok(lines(await cli('user', 'list')).length >= 2);
    const shown = json(await cli('user', 'show', 'CLI-zed@example.com'));
    assert.equal(shown.id, a.id);
    assert.equal(shown.email_verified, false);
    for (const out of [listed.stdout, JSON.stringify(shown)]) assert.ok(!/password|\$argon2/.test(out));

    assert.equal(json(await cli('user', 'verify', a.email)).email_verified, true);
    assert.deepEqual(json(await cli('user', 'set-roles', a.id, '--roles', 'admin, support')).roles, ['admin', 'support']);
    assert.equal(json(await cli('user', 'disable', a.id)).disabled, true);
    assert.equal(json(await cli('user', 'enable', a.email)).disabled, false);
    assert.deepEqual(json(await cli('user', 'set-roles', a.email, '--roles', '')).roles, []);

    const trail = (await server.services.security.events.list({ accountId: a.id, limit: 50 })).filter((e) => e.type.startsWith('admin.')).reverse();
    assert.deepEqual(trail.map((e) => e.type), ['admin.user_created', ...Array(5).fill('admin.user_updated')]);
    assert.ok(trail.every((e) => e.details.by === 'cli'));
    assert.deepEqual(trail.slice(1).map((e) => e.details.changes), [
      { email_verified: { before: false, after: true } },
      { roles: { before: [], after: ['admin', 'support'] } },
      { disabled: { before: false, after: true } },
      { disabled: { before: true, after: false } },
      { roles: { before: ['admin', 'support'], after: [] } },
    ]);
  });

  /** Each case fails with one line matching its pattern, a non-zero exit and nothing on stdout. */
  const failsWith = async (cases: [string[], RegExp][]) => {
    for (const [args, expected] of cases) {
      const r = await cli(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      const errorLines = r.stderr.trimEnd().split('\n').filter((l) => l.startsWith('gatehouse: '));
      assert.equal(errorLines.length, 1, r.stderr);
      assert.match(errorLines[0]!, expected, args.join(' '));
    }
  };

  test('bad user input: one line naming the option and its rule, non-zero exit, nothing on stdout', async () => {
    const user = await createUser(server);
    await failsWith([
      [['user', 'create', '--email', 'short@example.com', '--password', 'short'], /^gatehouse: usage error: --password: .*\d+ characters/],
      [['user', 'create', '--email', 'not-an-email', '--password', 'long enough password'], /^gatehouse: usage error: --email: /],
      [['user', 'create', '--email', 'x@example.com'], /^gatehouse: usage error: --password: required/],
      [['user', 'set-roles', 'nobody@example.com', '--roles', 'a'], /^gatehouse: error: no account nobody@example.com/],
      [['user', 'set-roles', user.email, '--roles', 'Admin!'], /^gatehouse: usage error: --roles: /],
      [['user', 'show'], /^gatehouse: usage error: user show needs an account id or e-mail address/],
    ]);
  });

  test('bad client input: one line naming the option and its rule; nothing changes', async () => {
    const client = json<ClientMetadata>(await cli('client', 'create', '--name', 'Errors', '--redirect-uri', 'http://127.0.0.1:9/cb'));
    await failsWith([
      [['client', 'update', client.client_id, '--redirect-uri', 'not a url'], /^gatehouse: usage error: --redirect-uri: /],
      [['client', 'update', client.client_id, '--grant-types', 'implicit'], /^gatehouse: usage error: --grant-types: /],
      [['client', 'update', client.client_id, '--scope', 'openid root'], /^gatehouse: usage error: --scope: /],
      [['client', 'update', client.client_id], /^gatehouse: usage error: client update needs at least one of --name/],
      [['client', 'update', 'no-such-client', '--name', 'x'], /^gatehouse: error: no client with id no-such-client/],
      [['client', 'rotate-secret'], /^gatehouse: usage error: client rotate-secret needs a client id/],
      [['client', 'update', client.client_id, '--colour', 'red'], /^gatehouse: usage error: Unknown option '--colour'/],
    ]);
    assert.deepEqual(json<ClientMetadata>(await cli('client', 'show', client.client_id)).redirect_uris, ['http://127.0.0.1:9/cb'], 'nothing changed');
  });

  test('--help for every command and subcommand: its usage on stdout, exit 0', async () => {
    const commands = [
      ['--help'],
      ['migrate', '--help'],
      ...['create', 'list', 'show', 'update', 'rotate-secret', 'delete'].map((s) => ['client', s, '--help']),
      ...['create', 'list', 'show', 'disable', 'enable', 'verify', 'set-roles', 'import'].map((s) => ['user', s, '--help']),
      ['keys', '--help'],
      ['iat', '--help'],
      ['outbox', '--help'],
      ['events', '--help'],
    ];
    for (const args of commands) {
      const r = await runCli(args, {});
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      const expected = args.length > 2 ? `usage: gatehouse ${args[0]} ${args[1]}` : args.length === 2 ? `usage: gatehouse ${args[0]}` : 'usage: gatehouse <command>';
      assert.ok(r.stdout.startsWith(expected), `${args.join(' ')} → ${r.stdout}`);
    }
  });
});
