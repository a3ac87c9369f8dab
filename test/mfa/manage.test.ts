import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type * as oidc from 'openid-client';
import { createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';
import { eventually, outboxTo } from '../email/support.ts';
import { codeAt, enrolFromAccount, idTokenOf, signInToAccount, startSignIn, texts, toCallback } from './support.ts';

async function adminToken(server: TestServer) {
  const client = await createClient(server, { name: 'Helpdesk', grantTypes: ['client_credentials'], redirectUris: [], scope: 'admin' });
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }),
  });
  return { clientId: client.client_id, token: ((await res.json()) as { access_token: string }).access_token };
}

// Issue 13: the person renews recovery codes and removes the app from /account, each after a
// fresh code; an admin removes a user's factors when the user lost them (recovery of access).
describe(`managing second factors (${STORAGE})`, () => {
  const { server } = useServer();
  let config: oidc.Configuration;

  before(async () => {
    config = await rpConfig(server, await createClient(server, { name: 'Shop' }));
  });

  test('/account: new recovery codes replace the old ones; removing the app needs a fresh code', async () => {
    const user = await createUser(server);
    const { browser } = await signInToAccount(server, user);
    const { totp, recoveryCodes } = await enrolFromAccount(server, browser, -1);

    // Its owner hears of it (someone who learnt the password could add one unseen).
    assert.ok(await eventually(async () => (await outboxTo(server, user.email)).find((m) => m.template === 'factor-added')));

    // Gatehouse's own /login (first-party, /session/start) asks for the second factor too.
    const again = await signInToAccount(server, user);
    assert.match(again.page.url, /\/interaction\/[^/]+\/mfa$/);
    const landed = await again.browser.submit(again.page, { code: recoveryCodes[1]! }, { field: 'code' });
    assert.match(landed.url, /\/account$/);
    assert.match(landed.body, /data-factor="totp"/);

    const regenerate = await browser.follow(`${server.url}/account/recovery-codes`);
    assert.equal(regenerate.status, 200);
    const refused = await browser.submit(regenerate, { code: '111111' }, { field: 'code' });
    assert.equal(refused.status, 400);
    const renewed = await browser.submit(refused, { code: await codeAt(totp) }, { field: 'code' });
    const fresh = texts(renewed.body, 'data-recovery-code');
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.includes(recoveryCodes[0]!));

    // An old code no longer signs in; a new one does.
    const flow = await startSignIn(config, user);
    const old = await flow.browser.submit(flow.page, { code: recoveryCodes[0]! }, { field: 'code', stopAt: flow.atCallback });
    assert.equal(old.status, 400);
    await toCallback(flow, await flow.browser.submit(old, { code: fresh[0]! }, { field: 'code', stopAt: flow.atCallback }));

    const remove = await browser.follow(`${server.url}/account/totp/remove`);
    const removed = await browser.submit(remove, { code: await codeAt(totp, 1) }, { field: 'code' });
    assert.equal(removed.status, 200);
    assert.match(removed.url, /\/account\?done=mfa_removed$/);
    assert.match(removed.body, /The authenticator app was removed/);
    assert.match(removed.body, /href="\/account\/totp"/, 'the account page offers to add one again');
    const plain = await startSignIn(config, user);
    assert.deepEqual((await idTokenOf(config, plain, await toCallback(plain, plain.page))).amr, ['pwd']);
    const types = (await server.services.security.events.list({ accountId: user.id })).map((e) => e.type);
    for (const t of ['mfa.enrolled', 'mfa.recovery_codes_regenerated', 'mfa.removed']) assert.ok(types.includes(t), t);
  });

  test('DELETE /admin/api/users/{id}/factors: the user signs in with the password again, is told by e-mail, and the event names the admin', async () => {
    const user = await createUser(server);
    const { browser } = await signInToAccount(server, user);
    await enrolFromAccount(server, browser);
    const { token, clientId } = await adminToken(server);
    const del = (id: string, bearer = token) => fetch(`${server.url}/admin/api/users/${id}/factors`, { method: 'DELETE', headers: { authorization: `Bearer ${bearer}` } });

    const res = await del(user.id);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: user.id, removed: true });
    assert.deepEqual(await (await del(user.id)).json(), { id: user.id, removed: false });
    assert.equal((await del('00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await del(user.id, 'not-a-token')).status, 401);

    const flow = await startSignIn(config, user);
    assert.deepEqual((await idTokenOf(config, flow, await toCallback(flow, flow.page))).amr, ['pwd']);
    const mail = await eventually(async () => (await outboxTo(server, user.email)).find((m) => m.template === 'factors-removed'));
    assert.ok(mail);
    const [event] = await server.services.security.events.list({ accountId: user.id, type: 'admin.user_factors_removed' });
    assert.equal(event?.details.by_client, clientId);
  });
});
