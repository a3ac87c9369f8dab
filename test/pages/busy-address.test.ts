import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { defaults } from '../../config/defaults.ts';
import { type Page } from '../helpers/browser.ts';
import { PASSWORD } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';
import { BEHIND_PROXY, fastEmail, PersonBrowser } from '../email/support.ts';

const h1 = (page: Page) => /<h1>([^<]*)<\/h1>/.exec(page.body)?.[1];

describe('default registration limits', () => {
  test('sized for dozens of registrations from one address in ten minutes', () => {
    const { register } = defaults.rateLimits;
    assert.equal(register.windowSeconds, 600);
    assert.ok(register.max >= 36, `max ${register.max}`);
  });
});

// A classroom behind one address: the first sign-ups go straight through, then a captcha is
// asked, and only past the limit is the address refused, on a page that says when to come back.
describe(`a busy address: captcha first, then a refusal page (${STORAGE})`, () => {
  let siteverify: Server;
  const issued = new Set<string>();
  before(async () => {
    siteverify = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const success = issued.has(new URLSearchParams(body).get('response') ?? '');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success }));
      });
    });
    await new Promise<void>((resolve) => siteverify.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    siteverify.closeAllConnections();
    await new Promise((resolve) => siteverify.close(resolve));
  });
  const { server } = useServer({
    env: () => ({
      ...BEHIND_PROXY,
      CAPTCHA_PROVIDER: 'turnstile',
      CAPTCHA_SITE_KEY: 'busy-site-key',
      CAPTCHA_SECRET: 'busy-secret',
      CAPTCHA_VERIFY_URL: `http://127.0.0.1:${(siteverify.address() as { port: number }).port}/siteverify`,
    }),
    overrides: { ...fastEmail(), rateLimits: { ...defaults.rateLimits, register: { max: 4, windowSeconds: 600, captchaAfter: 2 } } },
  });

  const solved = () => {
    const token = `tok_${randomBytes(12).toString('base64url')}`;
    issued.add(token);
    return { 'cf-turnstile-response': token };
  };

  test('two registrations pass without a captcha, the next ones are asked for it, then 429 says when to try again', async () => {
    const classroom = new PersonBrowser();
    const values = () => ({ name: 'Pupil', email: `pupil-${randomBytes(3).toString('hex')}@example.com`, password: PASSWORD });
    const form = await classroom.request(`${server.url}/register`);
    assert.doesNotMatch(form.body, /data-sitekey/, 'a quiet address sees no captcha');
    for (let i = 0; i < 2; i++) {
      const sent = await classroom.submit(await classroom.request(`${server.url}/register`), values(), { field: 'email' });
      assert.equal(h1(sent), 'Check your e-mail', `registration ${i + 1}`);
    }

    // The third: asked for the captcha, with what was typed kept.
    const third = values();
    const asked = await classroom.submit(await classroom.request(`${server.url}/register`), third, { field: 'email' });
    assert.equal(asked.status, 400);
    assert.match(asked.body, /Many accounts were created from your network just now/);
    assert.match(asked.body, /data-sitekey="busy-site-key"/);
    assert.match(asked.body, new RegExp(`value="${third.email}"`));
    assert.equal(await server.services.accounts.repo.findByLogin(third.email), undefined);
    const done = await classroom.submit(asked, { ...third, password: PASSWORD, ...solved() }, { field: 'email' });
    assert.equal(h1(done), 'Check your e-mail');
    assert.ok(await server.services.accounts.repo.findByLogin(third.email));

    // Past the limit: refused, on a page of the design that says when to try again.
    const refused = await classroom.submit(await classroom.request(`${server.url}/register`), { ...values(), ...solved() }, { field: 'email' });
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 600, `retry-after ${retryAfter}`);
    assert.equal(h1(refused), 'Too many attempts for now');
    assert.match(refused.body, /Please wait \d+ minutes? and try again/);
    assert.match(refused.body, /You can try again from <time datetime="[^"]+">\d\d:\d\d UTC<\/time>/);
    assert.match(refused.body, /<link rel="stylesheet" href="\/assets\/gatehouse\.[0-9a-f]+\.css">/, 'in the design');
    assert.doesNotMatch(refused.body, /RATE_LIMITED/);

    // Another address is not affected.
    const elsewhere = new PersonBrowser();
    const sent = await elsewhere.submit(await elsewhere.request(`${server.url}/register`), values(), { field: 'email' });
    assert.equal(h1(sent), 'Check your e-mail');
  });
});
