import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { brandTheme, contrast, readableOn, SURFACE, textOn } from '../../src/http/brand.ts';
import { createClient as storeNewClient } from '../../src/oidc/clients.service.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { createClient, PASSWORD, rpConfig } from '../helpers/fixtures.ts';
import { STORAGE, useServer, type TestServer } from '../helpers/server.ts';
import { BEHIND_PROXY, eventually, fastEmail, outboxTo, PersonBrowser } from '../email/support.ts';

const stylesheets = (page: Page) => [...page.body.matchAll(/<link rel="stylesheet" href="([^"]+)"/g)].map((m) => m[1]!);

/** The login page of a new authorization request of `client`. */
async function loginPageOf(server: TestServer, client: Awaited<ReturnType<typeof createClient>>, browser: Browser = new Browser()) {
  const rp = await rpConfig(server, client);
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: 'http://127.0.0.1:9/callback',
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const page = await browser.follow(url.toString());
  assert.equal(page.status, 200);
  return page;
}

describe('the accent colour stays readable whatever it is', () => {
  test('text on the accent is white or near-black, whichever contrasts more, at least 4.5:1 for usual brand colours', () => {
    for (const color of ['#2450c9', '#ffd400', '#00a86b', '#e4002b', '#ffffff', '#000000', '#777777', '#6b3fa0', '#0ff']) {
      const on = textOn(color);
      assert.ok(contrast(on, color) >= 4.5 || color === '#777777', `${on} on ${color}: ${contrast(on, color).toFixed(2)}`);
    }
    assert.equal(textOn('#ffd400'), '#111418', 'dark text on yellow');
    assert.equal(textOn('#2450c9'), '#ffffff', 'white text on blue');
  });

  test('links in the accent are shaded to 4.5:1 against the light and the dark surface', () => {
    for (const color of ['#2450c9', '#ffd400', '#00a86b', '#101010', '#fafafa', '#e4002b']) {
      const { link } = brandTheme({ name: 'X', color });
      assert.ok(contrast(link.light, SURFACE.light) >= 4.5, `light ${link.light} for ${color}`);
      assert.ok(contrast(link.dark, SURFACE.dark) >= 4.5, `dark ${link.dark} for ${color}`);
    }
    assert.equal(readableOn('#2450c9', SURFACE.light), '#2450c9', 'a colour that reads already is kept');
  });
});

describe(`branding: name, logo and colour on every page and e-mail (${STORAGE})`, () => {
  const { server } = useServer({
    env: { ...BEHIND_PROXY, BRAND_NAME: 'Acme ID', BRAND_COLOR: '#ffd400', BRAND_LOGO_URL: 'https://cdn.example.com/acme.svg' },
    overrides: fastEmail(),
  });
  let client: Awaited<ReturnType<typeof createClient>>;

  before(async () => {
    client = await createClient(server, { name: 'Photo Prints' });
  });

  test('pages carry the name, the logo and a stylesheet of the brand colour with readable text on it', async () => {
    const page = await new Browser().request(`${server.url}/register`);
    assert.match(page.body, /<title>Create your account · Acme ID<\/title>/);
    assert.match(page.body, /<header class="brand">.*<img src="https:\/\/cdn\.example\.com\/acme\.svg"[^>]*alt=""[^>]*>.*<span>Acme ID<\/span>/s);
    assert.doesNotMatch(page.body, /Gatehouse/, 'the brand replaces the product name everywhere on the page');
    const brandCss = stylesheets(page).find((href) => href.startsWith('/assets/brand.'));
    assert.ok(brandCss, `a brand stylesheet: ${stylesheets(page).join(', ')}`);
    const css = await (await fetch(`${server.url}${brandCss}`)).text();
    assert.match(css, /--accent:#ffd400;--on-accent:#111418;/, 'near-black text on the yellow accent');
    const links = [...css.matchAll(/--link:(#[0-9a-f]{6})/g)].map((m) => m[1]!);
    assert.equal(links.length, 2, 'a link colour for the light theme and one for the dark');
    assert.ok(contrast(links[0]!, SURFACE.light) >= 4.5 && contrast(links[1]!, SURFACE.dark) >= 4.5, links.join(' '));
  });

  test('the CSP lets https logos load, and the stylesheet has light and dark themes', async () => {
    const res = await fetch(`${server.url}/register`, { headers: { accept: 'text/html' } });
    assert.match(res.headers.get('content-security-policy') ?? '', /img-src 'self' data: https:/);
    const page = await new Browser().request(`${server.url}/register`);
    const main = stylesheets(page).find((href) => href.startsWith('/assets/gatehouse.'))!;
    const css = await (await fetch(`${server.url}${main}`)).text();
    assert.match(css, /@media \(prefers-color-scheme: dark\)/);
    assert.match(css, /--surface:/);
  });

  test('the login page names the client and shows its https logo; an http logo elsewhere is not shown', async () => {
    const withLogo = await storeNewClient(
      { clients: server.services.clients, provider: server.services.host.provider },
      { client_name: 'Orchard', redirect_uris: ['http://127.0.0.1:9/callback'], logo_uri: 'https://orchard.example/logo.png' },
    );
    const page = await loginPageOf(server, withLogo);
    assert.match(page.body, /<img src="https:\/\/orchard\.example\/logo\.png"[^>]*class="client-logo"/);
    assert.match(page.body, /to continue to <strong>Orchard<\/strong>/);

    const plain = await storeNewClient(
      { clients: server.services.clients, provider: server.services.host.provider },
      { client_name: 'Plain', redirect_uris: ['http://127.0.0.1:9/callback'], logo_uri: 'http://plain.example/logo.png' },
    );
    const other = await loginPageOf(server, plain);
    assert.match(other.body, /to continue to <strong>Plain<\/strong>/);
    assert.doesNotMatch(other.body, /plain\.example/, 'an http logo off loopback is not shown');
  });

  test("Gatehouse's own sign-in (/login) does not say 'to continue to' itself", async () => {
    const page = await new Browser().follow(`${server.url}/login`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<h1>Sign in<\/h1>/);
    assert.doesNotMatch(page.body, /to continue to/);
  });

  test('the consent page shows the client with its logo', async () => {
    const withLogo = await storeNewClient(
      { clients: server.services.clients, provider: server.services.host.provider },
      { client_name: 'Orchard Two', redirect_uris: ['http://127.0.0.1:9/callback'], logo_uri: 'https://orchard.example/two.png' },
    );
    const email = `consent-${randomBytes(3).toString('hex')}@example.com`;
    await server.services.accounts.create({ email, password: PASSWORD, verified: true });
    const browser = new Browser();
    const login = await loginPageOf(server, withLogo, browser);
    const consent = await browser.submit(login, { login: email, password: PASSWORD }, { field: 'login' });
    assert.match(consent.body, /<h1>Allow access\?<\/h1>/);
    assert.match(consent.body, /<img src="https:\/\/orchard\.example\/two\.png"[^>]*>.*<strong>Orchard Two<\/strong>/s);
  });

  test('e-mails carry the brand: name, logo and the accent with readable text', async () => {
    const email = `brand-${randomBytes(3).toString('hex')}@example.com`;
    const browser = new PersonBrowser();
    const form = await browser.request(`${server.url}/register`);
    await browser.submit(form, { name: 'Ada', email, password: 'a long enough password 42' });
    const [message] = await eventually(async () => {
      const list = await outboxTo(server, email);
      return list[0]?.status === 'sent' && list;
    });
    const mail = (await (await fetch(`${server.url}/dev/mailbox.json`)).json()) as { to: string; html: string; text: string }[];
    const sent = mail.find((m) => m.to === message!.toAddress)!;
    assert.match(sent.html, /<img src="https:\/\/cdn\.example\.com\/acme\.svg"/);
    assert.match(sent.html, /Acme ID/);
    assert.match(sent.html, /background:#ffd400;color:#111418/, 'the button is the brand colour with dark text');
    assert.match(sent.text, /^Acme ID: /m);
    assert.doesNotMatch(sent.html + sent.text, /Gatehouse/);
  });
});
