import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Browser, forms } from '../helpers/browser.ts';
import { useServer } from '../helpers/server.ts';

// Forged form posts (ASVS V3.5.1): every hosted form oidc-provider does not protect itself
// carries a token bound to the browser's own CSRF cookie.
describe('CSRF on hosted forms', () => {
  const ctx = useServer();

  for (const path of ['/register', '/forgot-password']) {
    test(`${path}: the page's own form works, a forged post is refused`, async () => {
      const browser = new Browser();
      const page = await browser.request(`${ctx.server.url}${path}`);
      assert.equal(page.status, 200);
      const form = forms(page.body, page.url).find((f) => f.method === 'POST')!;
      assert.ok(form.fields._csrf, 'the form carries a CSRF token');

      const fields = { name: 'Csrf Test', email: `csrf-${path.slice(1)}@example.com`, password: 'a perfectly fine passphrase' };
      // An attacker's page posts the same fields from the victim's browser, without the token.
      const forged = await browser.request(form.action, { form: fields });
      assert.equal(forged.status, 403);
      assert.match(forged.body, /expired|reload/);

      // A token from another browser (the attacker's own session) does not fit this browser's cookie.
      const attacker = new Browser();
      const theirs = forms((await attacker.request(`${ctx.server.url}${path}`)).body, page.url).find((f) => f.method === 'POST')!;
      const stolen = await browser.request(form.action, { form: { ...fields, _csrf: theirs.fields._csrf! } });
      assert.equal(stolen.status, 403);

      // Accepted: the form's own answer, a redirect to its "sent" page (post/redirect/get).
      const genuine = await browser.request(form.action, { form: { ...form.fields, ...fields } });
      assert.equal(genuine.status, 303, 'the genuine post is accepted');
      assert.equal(genuine.headers.get('location'), `${path}/sent`);
    });
  }
});
