import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPasswordHasher } from '../../src/accounts/passwords/hasher.ts';
import { Browser, forms, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { useServer } from '../helpers/server.ts';

// Attacks on self-service: finding out who has an account, header injection through names and
// addresses, look-alike addresses, open redirects, and stale password hashes.
describe('account attacks', () => {
  const ctx = useServer();

  async function postForm(path: string, values: Record<string, string>): Promise<Page> {
    const browser = new Browser();
    const page = await browser.request(`${ctx.server.url}${path}`);
    const form = forms(page.body, page.url).find((f) => f.method === 'POST')!;
    return browser.request(form.action, { form: { ...form.fields, ...values } });
  }
  const register = (values: Record<string, string>) => postForm('/register', { name: 'Someone', password: 'a perfectly fine passphrase', ...values });
  const accountsWith = async (email: string) => (await ctx.server.services.knex('accounts').where('email_normalized', email.toLowerCase())).length;

  test('registering a taken address looks exactly like registering a new one', async () => {
    const existing = await createUser(ctx.server);
    const fresh = await register({ email: 'brand-new@example.com' });
    const taken = await register({ email: existing.email });
    assert.equal(taken.status, fresh.status);
    assert.equal(taken.headers.get('location'), fresh.headers.get('location'));
    assert.equal(taken.body, fresh.body);
    assert.equal(await accountsWith(existing.email), 1, 'no second account');
  });

  test('a mixed-case or padded spelling of a taken address is the same address', async () => {
    const existing = await createUser(ctx.server, { email: 'case.test@example.com' });
    await register({ email: '  CASE.Test@Example.COM ' });
    assert.equal(await accountsWith(existing.email), 1);
  });

  test('a wrong password and an unknown account give the same form error on the login page', async () => {
    const user = await createUser(ctx.server);
    const redirect = 'http://127.0.0.1:9/callback';
    const client = await createClient(ctx.server, { redirectUris: [redirect] });
    const auth = new URL('/auth', ctx.server.url);
    const params = { client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: redirect, state: 'st', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' };
    for (const [k, v] of Object.entries(params)) auth.searchParams.set(k, v);
    const pages = [];
    for (const login of [user.email, 'nobody-here@example.com']) {
      const browser = new Browser();
      const loginPage = await browser.follow(auth.toString());
      assert.equal(loginPage.status, 200);
      pages.push(await browser.submit(loginPage, { login, password: 'definitely wrong password' }, { field: 'login' }));
    }
    const [wrong, unknown] = pages;
    assert.equal(wrong!.status, 400);
    assert.equal(unknown!.status, wrong!.status);
    const message = (body: string) => body.match(/<p class="alert alert-error"[^>]*>([^<]*)<\/p>/)?.[1];
    assert.ok(message(wrong!.body));
    assert.equal(message(unknown!.body), message(wrong!.body));
    // The login field keeps what was typed; the password is never echoed back.
    assert.equal(forms(unknown!.body, unknown!.url)[0]!.fields.login, 'nobody-here@example.com');
    assert.equal(forms(unknown!.body, unknown!.url)[0]!.fields.password, '');
  });

  test('a password reset for an unknown address looks exactly like one for a known address', async () => {
    const existing = await createUser(ctx.server);
    const known = await postForm('/forgot-password', { email: existing.email });
    const unknown = await postForm('/forgot-password', { email: 'nobody-at-all@example.com' });
    assert.equal(unknown.status, known.status);
    assert.equal(unknown.headers.get('location'), known.headers.get('location'));
  });

  test('CR/LF in a name or an address is refused before anything is stored or mailed', async () => {
    const injected = await register({ email: 'crlf@example.com', name: 'Eve\r\nBcc: victim@example.com' });
    assert.equal(injected.status, 400);
    assert.equal(await accountsWith('crlf@example.com'), 0);
    const badEmail = await register({ email: 'eve@example.com\r\nBcc: victim@example.com' });
    assert.equal(badEmail.status, 400);
    assert.equal(await accountsWith('eve@example.com'), 0);
  });

  test('prototype keys in a form body change nothing', async () => {
    const res = await register({ email: 'proto@example.com', __proto__: 'x', constructor: 'y' } as Record<string, string>);
    assert.ok(res.status < 500);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  test('a 1 MB password at registration is refused (413), not hashed', async () => {
    const res = await register({ email: 'huge@example.com', password: 'p'.repeat(1024 * 1024) });
    assert.equal(res.status, 413);
    assert.equal(await accountsWith('huge@example.com'), 0);
  });

  test('open redirect through /session/start return_to gets an error page', async () => {
    const firstParty = await createClient(ctx.server, { firstParty: true, redirectUris: [`${ctx.server.url}/app/`] });
    for (const evil of ['https://evil.example/', `${ctx.server.url}/app/../../evil`, `${ctx.server.url}.evil.example/app/`, '//evil.example/app/']) {
      const url = new URL('/session/start', ctx.server.url);
      url.searchParams.set('client_id', firstParty.client_id);
      url.searchParams.set('return_to', evil);
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.headers.get('location'), null, evil);
      assert.ok(res.status >= 400, evil);
    }
  });

  test('a hash made with weaker argon2 parameters is upgraded at the next sign-in', async () => {
    const user = await createUser(ctx.server);
    const weak = await createPasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 }).hash(user.password);
    await ctx.server.services.knex('accounts').where({ id: user.id }).update({ password_hash: weak });
    await ctx.server.services.accounts.authenticate(user.email, user.password);
    const { password_hash: now } = await ctx.server.services.knex('accounts').where({ id: user.id }).first('password_hash');
    assert.match(now, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});
