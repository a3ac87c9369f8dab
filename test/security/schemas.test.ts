import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Browser, forms, type Page } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { call } from '../first-party/support.ts';
import type { ClientMetadata } from '../../src/oidc/clients.repo.ts';

// Issue 8: every route declares its input (zod), and input of the wrong type is a 400 naming the
// field: JSON `{ error: 'VALIDATION_FAILED', fields }` for APIs, the form again with the field
// marked for pages. A form field sent twice arrives as a list: refused, never half-read.
const REDIRECT = 'http://127.0.0.1:9/callback';

/** The message shown under a field of a page's form, if it is marked. */
function fieldError(page: Page, name: string): string | undefined {
  const input = new RegExp(`<input name="${name}"[^>]*aria-invalid="true"[^>]*>\\s*<small class="field-error"[^>]*>([^<]*)</small>`).exec(page.body);
  return input?.[1];
}

describe(`route schemas: a wrong-typed field is a 400 naming it (${STORAGE})`, () => {
  const { server } = useServer();
  let user: TestUser;
  let client: ClientMetadata;

  before(async () => {
    user = await createUser(server);
    client = await createClient(server, { firstParty: true, redirectUris: [REDIRECT], public: true });
  });

  /** A hosted form's page, and a post of `pairs` with the form's own hidden fields (its CSRF token). */
  async function postForm(path: string, pairs: [string, string][], browser = new Browser()) {
    const page = await browser.request(`${server.url}${path}`);
    assert.equal(page.status, 200);
    const form = forms(page.body, page.url).find((f) => f.method === 'POST')!;
    const sent = new Set(pairs.map(([name]) => name));
    return browser.request(form.action, { form: [...Object.entries(form.fields).filter(([name]) => !sent.has(name)), ...pairs] });
  }
  const outboxCount = async () => Number((await server.services.knex('email_outbox').count({ n: '*' }))[0]!.n);

  test('JSON POST /session/login: a number for `login` and for `captcha` are named', async () => {
    const res = await call(server, '/session/login', { method: 'POST', origin: server.url, body: { client_id: client.client_id, login: 5, password: user.password, captcha: 7 } });
    assert.equal(res.status, 400);
    assert.equal(res.body!.error, 'VALIDATION_FAILED');
    assert.deepEqual(res.body!.fields, { login: 'must be a string', captcha: 'must be a string' });
    assert.equal(res.cookies.size, 0);
    // Missing and empty fields still say `required`, all of them at once, as before.
    const empty = await call(server, '/session/login', { method: 'POST', origin: server.url, body: { login: '' } });
    assert.deepEqual([empty.status, empty.body!.fields], [400, { client_id: 'required', login: 'required', password: 'required' }]);
    // The same body well-typed signs in.
    const ok = await call(server, '/session/login', { method: 'POST', origin: server.url, body: { client_id: client.client_id, login: user.email, password: user.password } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('/forgot-password with `email` twice: the form again, the field marked, nothing mailed', async () => {
    const before = await outboxCount();
    const res = await postForm('/forgot-password', [['email', user.email], ['email', 'other@example.com']]);
    assert.equal(res.status, 400);
    assert.ok(fieldError(res, 'email'), 'the email field is marked');
    const form = forms(res.body, res.url).find((f) => f.method === 'POST')!;
    assert.ok(form.fields._csrf, 'the form comes back with a CSRF token, ready to post again');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await outboxCount(), before, 'no reset link');
  });

  test('/register with the optional `username` twice: the form again with the field marked, no account', async () => {
    // Before issue 8 a list read as "no username", and the account was made without one.
    const email = 'twice@example.com';
    const res = await postForm('/register', [['name', 'Twice'], ['email', email], ['username', 'twice1'], ['username', 'twice2'], ['password', 'a perfectly fine passphrase']]);
    assert.equal(res.status, 400);
    assert.ok(fieldError(res, 'username'));
    assert.equal(forms(res.body, res.url)[0]!.fields.name, 'Twice', 'what was typed is kept');
    assert.equal((await server.services.knex('accounts').where('email_normalized', email)).length, 0);
  });

  test('a control character in an e-mail address is refused by the resend form, naming the field', async () => {
    const res = await postForm('/verify-email/resend', [['email', 'some\u0000one@example.com']]);
    assert.equal(res.status, 400);
    assert.match(fieldError(res, 'email') ?? '', /valid e-mail address/);
  });

  test('a missing CSRF token is still the CSRF answer, whatever the fields', async () => {
    const browser = new Browser();
    await browser.request(`${server.url}/register`);
    const res = await browser.request(`${server.url}/register`, { form: [['email', 'a@example.com'], ['email', 'b@example.com']] });
    assert.equal(res.status, 403);
    assert.match(res.body, /expired|reload/);
  });

  test('the hosted login with `login` twice: the login page again, the field marked', async () => {
    const app = await createClient(server, { redirectUris: [REDIRECT] });
    const auth = new URL('/auth', server.url);
    const params = { client_id: app.client_id, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' };
    for (const [k, v] of Object.entries(params)) auth.searchParams.set(k, v);
    const browser = new Browser();
    const loginPage = await browser.follow(auth.toString());
    const form = forms(loginPage.body, loginPage.url).find((f) => 'login' in f.fields)!;
    const res = await browser.request(form.action, { form: [['login', user.email], ['login', user.email], ['password', user.password]] });
    assert.equal(res.status, 400);
    assert.ok(fieldError(res, 'login'));
    // The sign-in goes on with a well-formed post.
    const done = await browser.request(form.action, { form: { login: user.email, password: user.password } });
    assert.equal(done.status, 303);
  });

  test('query strings and path parameters: a bad one is a 400 naming it', async () => {
    const start = await new Browser().request(`${server.url}/session/start?client_id=a&client_id=b&return_to=${encodeURIComponent(REDIRECT)}`);
    assert.equal(start.status, 400);
    assert.match(start.body, /VALIDATION_FAILED/);
    assert.match(start.body, /client_id/);
    assert.equal(start.headers.get('location'), null);

    const reset = await new Browser().request(`${server.url}/reset-password?token=a&token=b`);
    assert.equal(reset.status, 400);
    assert.match(reset.body, /token/);

    // The dev mailbox (no SMTP_URL in tests): a message id is a UUID.
    const mail = await fetch(`${server.url}/dev/mailbox/not-an-id.html`);
    assert.equal(mail.status, 400);
    const body = (await mail.json()) as { error: string; fields: Record<string, string> };
    assert.equal(body.error, 'VALIDATION_FAILED');
    assert.ok(body.fields.id);
  });
});
