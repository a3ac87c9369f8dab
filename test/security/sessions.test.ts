import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';
import { Browser } from '../helpers/browser.ts';
import { json, runCli } from '../helpers/cli.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { useServer } from '../helpers/server.ts';

// ASVS V7: session identifiers rotate at sign-in; disabling an account ends everything it had.
describe('sessions', () => {
  const ctx = useServer();
  let client: ClientMetadata;
  let config: oidc.Configuration;

  before(async () => {
    client = await createClient(ctx.server);
    config = await rpConfig(ctx.server, client);
  });

  const sessionCookie = (browser: Browser, url: string) => browser.cookies.get(new URL(url).host)?.get('_session');

  test('the session id changes when another person signs in on the same browser (no fixation)', async () => {
    const [first, second] = [await createUser(ctx.server), await createUser(ctx.server)];
    const browser = new Browser();
    await authorize(ctx.server, config, first, { browser });
    const before = sessionCookie(browser, ctx.server.url);
    assert.ok(before, 'signed in: a session cookie');
    await authorize(ctx.server, config, second, { browser, extra: { prompt: 'login' } });
    const after = sessionCookie(browser, ctx.server.url);
    assert.ok(after);
    assert.notEqual(after, before);
  });

  test('disabling an account ends its tokens and sessions, and it cannot sign in', async () => {
    const user = await createUser(ctx.server);
    const a = await authorize(ctx.server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, a.callbackUrl, { pkceCodeVerifier: a.verifier, expectedState: a.state });

    const result = json(await runCli(['user', 'disable', user.email], ctx.storage.env));
    assert.equal(result.disabled, true);

    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.id));
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
    await assert.rejects(authorize(ctx.server, config, user), /expected a redirect to the client, got 400/);
    const events = await ctx.server.services.security.events.list({ type: 'account.disabled', accountId: user.id });
    assert.equal(events.length, 1);

    json(await runCli(['user', 'enable', user.id], ctx.storage.env));
    const again = await authorize(ctx.server, config, user);
    assert.ok(again.callbackUrl.searchParams.get('code'), 'enabled again, the password works');
  });
});
