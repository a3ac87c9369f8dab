import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { json, runCli } from '../helpers/cli.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { createStorage, startServer, type TestServer, type TestStorage } from '../helpers/server.ts';

// ASVS V7: session identifiers rotate at sign-in; disabling an account ends everything it had.
describe('sessions', () => {
  let storage: TestStorage;
  let server: TestServer;
  let client: ClientMetadata;
  let config: oidc.Configuration;

  before(async () => {
    storage = await createStorage();
    server = await startServer(storage);
    client = await createClient(server);
    config = await rpConfig(server, client);
  });
  after(async () => {
    await server?.stop();
    await storage?.drop();
  });

  const sessionCookie = (browser: Browser, url: string) => browser.cookies.get(new URL(url).host)?.get('_session');

  test('the session id changes when another person signs in on the same browser (no fixation)', async () => {
    const [first, second] = [await createUser(server), await createUser(server)];
    const browser = new Browser();
    await authorize(server, config, first, { browser });
    const before = sessionCookie(browser, server.url);
    assert.ok(before, 'signed in: a session cookie');
    await authorize(server, config, second, { browser, extra: { prompt: 'login' } });
    const after = sessionCookie(browser, server.url);
    assert.ok(after);
    assert.notEqual(after, before);
  });

  test('disabling an account ends its tokens and sessions, and it cannot sign in', async () => {
    const user = await createUser(server);
    const a = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, a.callbackUrl, { pkceCodeVerifier: a.verifier, expectedState: a.state });

    const result = json(await runCli(['user', 'disable', user.email], storage.env));
    assert.equal(result.disabled, true);

    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.id));
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
    await assert.rejects(authorize(server, config, user), /expected a redirect to the client, got 400/);
    const events = await server.app.gatehouse.security.events.list({ type: 'account.disabled', accountId: user.id });
    assert.equal(events.length, 1);

    json(await runCli(['user', 'enable', user.id], storage.env));
    const again = await authorize(server, config, user);
    assert.ok(again.callbackUrl.searchParams.get('code'), 'enabled again, the password works');
  });
});
