import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Browser } from '../helpers/browser.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

const assetsOf = (html: string) => [...html.matchAll(/<(?:link rel="stylesheet" href|script src)="([^"]+)"/g)].map((m) => m[1]!);

describe(`stylesheets and scripts: content-hashed names, cached for a year, our own (${STORAGE})`, () => {
  const { server } = useServer();

  test('every page names its CSS and scripts by content hash; each is served immutable for a year', async () => {
    const pages = ['/register', '/forgot-password', '/verify-email/resend', '/no-such-page'];
    const seen = new Set<string>();
    for (const path of pages) {
      const page = await new Browser().request(`${server.url}${path}`);
      const assets = assetsOf(page.body);
      assert.ok(assets.some((a) => a.endsWith('.css')) && assets.some((a) => a.endsWith('.js')), `${path}: ${assets.join(', ')}`);
      for (const a of assets) seen.add(a);
    }
    for (const url of seen) {
      assert.match(url, /^\/assets\/[a-z-]+\.[0-9a-f]{12}\.(css|js)$/, 'same-origin, hashed: no CDN, no external font');
      const res = await fetch(`${server.url}${url}`);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', url);
      assert.match(res.headers.get('content-type') ?? '', url.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      const body = Buffer.from(await res.arrayBuffer());
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
      assert.ok(url.includes(`.${hash}.`), `${url} is named by its content`);
      assert.doesNotMatch(body.toString(), /@import|url\(\s*["']?https?:/, `${url} loads nothing from elsewhere`);
    }
  });

  test('the pages carry no inline script or style (the CSP would refuse them)', async () => {
    for (const path of ['/register', '/forgot-password']) {
      const { body } = await new Browser().request(`${server.url}${path}`);
      assert.doesNotMatch(body, /<script(?![^>]*\ssrc=)[^>]*>/, `${path}: no inline script`);
      assert.doesNotMatch(body, /<style|\sstyle="/, `${path}: no inline style`);
      assert.doesNotMatch(body, /\son[a-z]+="/, `${path}: no inline event handler`);
    }
  });

  test('a refused form: the summary can take focus, each field error is tied to its input, nothing steals focus', async () => {
    const browser = new Browser();
    const form = await browser.request(`${server.url}/register`);
    assert.match(form.body, /<input name="name" id="field-name"[^>]*autofocus/, 'the empty form focuses its first field');
    const page = await browser.submit(form, { name: 'Ada', email: 'not an address', password: 'short' });
    assert.equal(page.status, 400);
    assert.match(page.body, /<p class="alert alert-error" role="alert" id="error-summary" tabindex="-1" data-error-summary>/);
    assert.doesNotMatch(page.body, /autofocus/, 'focus goes to the summary (the script), not to a field');
    for (const name of ['email', 'password']) {
      const input = new RegExp(`<input name="${name}" id="field-${name}"[^>]*aria-invalid="true" aria-describedby="field-${name}-error"`).exec(page.body);
      assert.ok(input, `${name} is marked and described`);
      assert.match(page.body, new RegExp(`<small class="field-error" id="field-${name}-error">[^<]+</small>`));
    }
    assert.match(page.body, /<label class="field" for="field-email">/);
  });
});
