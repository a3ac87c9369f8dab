import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { launchChromium, NO_CHROMIUM } from '../helpers/chromium.ts';
import { json, runCli } from '../helpers/cli.ts';
import { authorize, createClient, createUser, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';

/** A client-credentials access token of `clientId`. */
async function clientToken(server: TestServer, clientId: string, secret: string, scope = 'admin') {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  return { status: res.status, body: (await res.json()) as { access_token?: string; error?: string; scope?: string } };
}

describe(`admin API: clients (${STORAGE})`, () => {
  // Admins sign in here with a password alone; their second factor is test/mfa's.
  const { server, storage } = useServer({ overrides: { mfa: { requireForRoles: [], requireForEveryone: false } } });
  let token: string;
  let adminClientId: string;

  const api = async (method: string, path: string, body?: unknown, bearer: string | undefined = token) => {
    const res = await fetch(`${server.url}/admin/api${path}`, {
      method,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    const admin = await createClient(server, { name: 'Automation', grantTypes: ['client_credentials'], redirectUris: [], scope: 'admin' });
    adminClientId = admin.client_id;
    const issued = await clientToken(server, admin.client_id, admin.client_secret!);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.body.scope, 'admin');
    token = issued.body.access_token!;
  });

  test('create, read, list, update and delete a client; the secret is shown once and never again', async () => {
    const created = await api('POST', '/clients', { client_name: 'Shop', redirect_uris: ['https://shop.example/cb'], post_logout_redirect_uris: ['https://shop.example/'] });
    assert.equal(created.status, 201, created.text);
    assert.ok(created.body.client_id);
    assert.ok(created.body.client_secret, 'a confidential client gets its secret in the creation answer');
    assert.equal(created.body.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(created.body.grant_types, ['authorization_code', 'refresh_token']);
    const id = created.body.client_id as string;

    const read = await api('GET', `/clients/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.client_name, 'Shop');
    assert.equal(read.body.first_party, false);
    assert.ok(!read.text.includes(created.body.client_secret), 'no secret when read');
    assert.ok(!('client_secret' in read.body));

    const list = await api('GET', '/clients?limit=200');
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((c: { client_id: string }) => c.client_id === id));
    assert.ok(!list.text.includes('"client_secret"'), 'no secrets in the list');
    assert.equal(list.body.next_cursor, null);

    const patched = await api('PATCH', `/clients/${id}`, { client_name: 'Shop 2', redirect_uris: ['https://shop.example/cb2'] });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.client_name, 'Shop 2');
    assert.deepEqual(patched.body.redirect_uris, ['https://shop.example/cb2']);
    assert.ok(!('client_secret' in patched.body));
    assert.equal((await api('GET', `/clients/${id}`)).body.client_name, 'Shop 2');

    const publicClient = await api('POST', '/clients', { client_name: 'SPA', redirect_uris: ['https://spa.example/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(publicClient.status, 201, publicClient.text);
    assert.ok(!('client_secret' in publicClient.body), 'a public client gets no secret');

    const deleted = await api('DELETE', `/clients/${id}`);
    assert.equal(deleted.status, 204);
    assert.equal((await api('GET', `/clients/${id}`)).status, 404);
    assert.equal((await api('DELETE', `/clients/${id}`)).status, 404);
    assert.equal((await api('PATCH', `/clients/${id}`, { client_name: 'x' })).status, 404);

    // Every change is in the event log: who, which client, which fields; never a secret.
    const events = await server.services.security.events.list({ limit: 50 });
    const mine = events.filter((e) => e.type.startsWith('admin.client_') && (e.details as { client_id?: string }).client_id === id);
    assert.deepEqual(mine.map((e) => e.type).sort(), ['admin.client_created', 'admin.client_deleted', 'admin.client_updated']);
    const updated = mine.find((e) => e.type === 'admin.client_updated')!;
    assert.deepEqual((updated.details as { fields: string[] }).fields, ['client_name', 'redirect_uris']);
    assert.equal((updated.details as { by_client: string }).by_client, adminClientId);
    assert.deepEqual((updated.details as { changes: unknown }).changes, {
      client_name: { before: 'Shop', after: 'Shop 2' },
      redirect_uris: { before: ['https://shop.example/cb'], after: ['https://shop.example/cb2'] },
    });
    assert.ok(updated.ip, 'the address is recorded');
    assert.ok(!JSON.stringify(events).includes(created.body.client_secret));
  });

  test('the CLI makes an admin client as the README says; its client-credentials token calls the API', async () => {
    const made = json<{ client_id: string; client_secret: string }>(
      await runCli(['client', 'create', '--name', 'Automation (CLI)', '--grant-types', 'client_credentials', '--scope', 'admin'], { ...storage.env, ISSUER: server.url }),
    );
    const issued = await clientToken(server, made.client_id, made.client_secret);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const list = await api('GET', '/clients?limit=200', undefined, issued.body.access_token);
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((c: { client_id: string }) => c.client_id === made.client_id));
  });

  test('paging by cursor is stable across inserts: no row twice, none skipped', async () => {
    const made: string[] = [];
    const make = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const res = await api('POST', '/clients', { client_name: `Paged ${made.length}`, grant_types: ['client_credentials'], scope: 'openid' });
        assert.equal(res.status, 201, res.text);
        made.push(res.body.client_id);
      }
    };
    await make(7);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await api('GET', `/clients?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.items.length <= 3);
      seen.push(...page.body.items.map((c: { client_id: string }) => c.client_id));
      cursor = page.body.next_cursor;
      // Inserts between pages land after what was read, and are read in turn.
      if (pages++ < 2) await make(2);
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length, 'no client twice');
    for (const id of made) assert.ok(seen.includes(id), `client ${id} was not skipped`);

    const forged = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    for (const cursor of ['not-a-cursor', forged(['yesterday', 'x']), forged(['2026-01-01T00:00:00.000Z', 'a\u0000b'])]) {
      const bad = await api('GET', `/clients?cursor=${cursor}`);
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.body.field, 'cursor');
    }
    const badLimit = await api('GET', '/clients?limit=0');
    assert.equal(badLimit.status, 400);
    assert.equal(badLimit.body.field, 'limit');
  });

  test('a validation failure is a 400 naming the field, never a 500', async () => {
    const cases: [unknown, string][] = [
      [{ client_name: 'Bad', redirect_uris: ['http://evil.example/cb'] }, 'redirect_uris'],
      [{ client_name: 'Bad', redirect_uris: ['https://a.example/cb#frag'] }, 'redirect_uris'],
      [{ client_name: 'Bad', redirect_uris: 'https://a.example/cb' }, 'redirect_uris'],
      [{ redirect_uris: ['https://a.example/cb'] }, 'client_name'],
      [{ client_name: 'Bad', redirect_uris: ['https://a.example/cb'], scope: 'openid root' }, 'scope'],
      [{ client_name: 'Bad', redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'magic' }, 'token_endpoint_auth_method'],
      [{ client_name: 'Bad', grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }, 'grant_types'],
      [{ client_name: 'Bad', redirect_uris: ['https://a.example/cb'], backchannel_logout_uri: 'http://a.example/bc' }, 'backchannel_logout_uri'],
      [{ client_name: 'Bad', redirect_uris: ['https://a.example/cb'], first_party: 'yes' }, 'first_party'],
    ];
    for (const [body, field] of cases) {
      const res = await api('POST', '/clients', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body.error, 'VALIDATION_FAILED', res.text);
      assert.equal(res.body.field, field, res.text);
      assert.match(res.body.message, new RegExp(field));
    }
    const existing = await createClient(server);
    const patch = await api('PATCH', `/clients/${existing.client_id}`, { redirect_uris: ['http://evil.example/cb'] });
    assert.equal(patch.status, 400);
    assert.equal(patch.body.field, 'redirect_uris');
    assert.deepEqual((await api('GET', `/clients/${existing.client_id}`)).body.redirect_uris, existing.redirect_uris, 'nothing changed');
  });

  test('authorization: no token, a bad token, a token without the admin scope, a non-admin user → 401/403 or access_denied, with no data', async () => {
    const none = await api('GET', '/clients', undefined, '');
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.deepEqual(Object.keys(none.body).sort(), ['error', 'message']);

    const bad = await api('GET', '/clients', undefined, 'not-a-real-token');
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.ok(!('items' in bad.body));

    // An expired token (one of the admin client's own, made to last two seconds: expiry counts
    // whole seconds from the second it was issued in, so a one-second token may be over at once).
    const { provider } = server.services.host;
    const short = new provider.ClientCredentials({ client: (await provider.Client.find(adminClientId))!, scope: 'admin', expiresIn: 2 });
    const shortValue = await short.save();
    assert.equal((await api('GET', '/clients?limit=1', undefined, shortValue)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const expired = await api('GET', '/clients?limit=1', undefined, shortValue);
    assert.equal(expired.status, 401);
    assert.deepEqual(Object.keys(expired.body).sort(), ['error', 'message']);

    // A client not allowed the admin scope cannot get it, and its other tokens are refused.
    const plain = await createClient(server, { name: 'Worker', grantTypes: ['client_credentials'], redirectUris: [], scope: 'openid' });
    assert.equal((await clientToken(server, plain.client_id, plain.client_secret!)).body.error, 'invalid_scope');
    const plainToken = (await clientToken(server, plain.client_id, plain.client_secret!, 'openid')).body.access_token!;
    const noScope = await api('GET', '/clients', undefined, plainToken);
    assert.equal(noScope.status, 403);
    assert.deepEqual(Object.keys(noScope.body).sort(), ['error', 'message']);
    assert.equal((await api('POST', '/clients', { client_name: 'Sneaky', grant_types: ['client_credentials'] }, plainToken)).status, 403);

    // A user's token with the admin scope, through a client allowed it: only an admin gets one.
    const console = await createClient(server, { name: 'Console', scope: 'openid admin' });
    const config = await rpConfig(server, console);
    const signIn = async (roles: string[]) => {
      const user = await createUser(server, { roles });
      return { user, ...(await authorize(server, config, user, { scope: 'openid admin' })) };
    };
    // Anyone else asking for it is refused at consent: no code, no token.
    const refused = await signIn([]);
    assert.equal(refused.callbackUrl.searchParams.get('error'), 'access_denied');
    assert.equal(refused.callbackUrl.searchParams.get('code'), null);
    const admin = await signIn(['admin']);
    const tokens = await oidc.authorizationCodeGrant(config, admin.callbackUrl, { pkceCodeVerifier: admin.verifier, expectedState: admin.state });
    assert.match(tokens.scope ?? '', /\badmin\b/);
    // A first-party client skips consent, but not this rule: its grant leaves the scope out for a non-admin.
    const frontEnd = await createClient(server, { name: 'Front end', scope: 'openid admin', firstParty: true });
    const firstPartyRefused = await authorize(server, await rpConfig(server, frontEnd), (await signIn([])).user, { scope: 'openid admin' });
    assert.equal(firstPartyRefused.callbackUrl.searchParams.get('error'), 'access_denied');
    const allowed = await api('GET', '/clients?limit=1', undefined, tokens.access_token);
    assert.equal(allowed.status, 200, allowed.text);
    // An admin who loses the role: the token they hold stops working at once.
    await server.services.accounts.repo.update(admin.user.id, { roles: [] });
    const demoted = await api('GET', '/clients', undefined, tokens.access_token);
    assert.equal(demoted.status, 403);
    assert.ok(!('items' in demoted.body));

    // Taking the admin scope away from a client ends its tokens' access at once.
    const revoked = await createClient(server, { name: 'Ex-admin', grantTypes: ['client_credentials'], redirectUris: [], scope: 'admin' });
    const exToken = (await clientToken(server, revoked.client_id, revoked.client_secret!)).body.access_token!;
    assert.equal((await api('GET', '/clients?limit=1', undefined, exToken)).status, 200);
    assert.equal((await api('PATCH', `/clients/${revoked.client_id}`, { scope: 'openid' })).status, 200);
    assert.equal((await api('GET', '/clients?limit=1', undefined, exToken)).status, 403);
  });

  test('a client created through the API completes a code flow; a rotated secret stops the old one at once', async () => {
    const created = await api('POST', '/clients', { client_name: 'RP', redirect_uris: ['http://127.0.0.1:9/callback'], scope: 'openid email profile offline_access' });
    assert.equal(created.status, 201, created.text);
    const user = await createUser(server);
    const config = await rpConfig(server, created.body);
    const { callbackUrl, verifier, state } = await authorize(server, config, user);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal(tokens.claims()?.sub, user.id);

    const rotated = await api('POST', `/clients/${created.body.client_id}/secret`);
    assert.equal(rotated.status, 200, rotated.text);
    assert.ok(rotated.body.client_secret);
    assert.notEqual(rotated.body.client_secret, created.body.client_secret);

    // The old secret is refused at the token endpoint right away (the cached client is dropped).
    const old = await clientToken(server, created.body.client_id, created.body.client_secret, 'openid');
    assert.equal(old.status, 401);
    assert.equal(old.body.error, 'invalid_client');
    // The new one authenticates (this client is not allowed client_credentials: refused, but not as invalid_client).
    const fresh = await clientToken(server, created.body.client_id, rotated.body.client_secret, 'openid');
    assert.notEqual(fresh.status, 401);
    assert.notEqual(fresh.body.error, 'invalid_client');
    const again = await authorize(server, await rpConfig(server, { ...created.body, client_secret: rotated.body.client_secret }), user);
    assert.ok(again.callbackUrl.searchParams.get('code'));

    const events = await server.services.security.events.list({ type: 'admin.client_secret_rotated', limit: 10 });
    assert.equal(events.length, 1);
    assert.ok(!JSON.stringify(events).includes(rotated.body.client_secret));
  });

  test('openapi.json is OpenAPI 3.1 listing every admin route; /admin/api/docs is a page of our own', async () => {
    const res = await fetch(`${server.url}/admin/api/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { openapi: string; info: { title: string }; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    assert.match(doc.openapi, /^3\.1\./);
    assert.ok(doc.info.title);
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/admin/api/clients',
      '/admin/api/clients/{client_id}',
      '/admin/api/clients/{client_id}/secret',
      '/admin/api/events',
      '/admin/api/outbox',
      '/admin/api/outbox/{id}/retry',
      '/admin/api/users',
      '/admin/api/users/{id}',
      '/admin/api/users/{id}/factors',
      '/admin/api/users/{id}/sessions',
      '/admin/api/users/{id}/verification-email',
    ]);
    assert.deepEqual(Object.keys(doc.paths['/admin/api/users/{id}']!).sort(), ['get', 'patch']);
    assert.deepEqual(Object.keys(doc.paths['/admin/api/users/{id}/sessions']!), ['delete']);
    assert.ok(JSON.stringify(doc.paths['/admin/api/users/{id}']!.patch!.requestBody).includes('email_verified'), 'generated from the route schemas');
    assert.ok(!JSON.stringify(doc).includes('password_hash'), 'no password hash anywhere in the document');
    assert.deepEqual(Object.keys(doc.paths['/admin/api/users/{id}/factors']!), ['delete']);
    assert.deepEqual(Object.keys(doc.paths['/admin/api/clients']!).sort(), ['get', 'post']);
    assert.deepEqual(Object.keys(doc.paths['/admin/api/clients/{client_id}']!).sort(), ['delete', 'get', 'patch']);
    assert.deepEqual(Object.keys(doc.paths['/admin/api/clients/{client_id}/secret']!), ['post']);
    assert.ok(JSON.stringify(doc.paths['/admin/api/clients']!.post!.requestBody).includes('redirect_uris'), 'generated from the route schemas');

    const docs = await fetch(`${server.url}/admin/api/docs`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type') ?? '', /text\/html/);
    const html = await docs.text();
    assert.ok(!/https?:\/\//.test(html.replace(/xmlns="[^"]*"/g, '')), 'no script or style from elsewhere');
    const script = html.match(/src="([^"]+swagger-ui-bundle\.js)"/)?.[1];
    assert.ok(script);
    assert.equal((await fetch(new URL(script, docs.url))).status, 200);
  });

  test('/admin/api/docs shows every operation in Chromium, under the app\'s strict CSP', { skip: NO_CHROMIUM }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(String(err)));
      await page.goto(`${server.url}/admin/api/docs`);
      await page.waitForSelector('.opblock', { timeout: 20_000 });
      // Clients 6 (GET/POST clients, GET/PATCH/DELETE a client, POST its secret), users 5, outbox 2, events 1, a user's factors 1.
      assert.equal(await page.locator('.opblock').count(), 15);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
