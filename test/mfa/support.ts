import * as oidc from 'openid-client';
import { TOTP, URI } from 'otpauth';
import { Browser, type Page } from '../helpers/browser.ts';
import type { TestServer } from '../helpers/server.ts';

/** The text of every element carrying attribute `attr` (CONTRACT.md's data attributes). */
export function texts(html: string, attr: string): string[] {
  return [...html.matchAll(new RegExp(`<[a-z]+[^>]*\\s${attr}(?:=""|)(?:\\s[^>]*)?>([^<]*)<`, 'g'))].map((m) =>
    m[1]!.replace(/&amp;/g, '&').replace(/&#x3D;/g, '=').replace(/&#x27;/g, "'").trim(),
  );
}

/** The authenticator app: reads the enrolment page's `otpauth://` URI, as a phone scanning the QR code would. */
export function authenticatorFrom(page: Page): TOTP {
  const [uri] = texts(page.body, 'data-otpauth-uri');
  if (!uri) throw new Error(`no data-otpauth-uri on ${page.url}: ${page.body.slice(0, 400)}`);
  const totp = URI.parse(uri);
  if (!(totp instanceof TOTP)) throw new Error('not a TOTP URI');
  return totp;
}

/**
 * The code for `steps` 30-second steps from now (negative: behind, as a slow phone clock). Waits
 * out the last two seconds of a step, so the server reads the code in the step it was made for.
 */
export async function codeAt(totp: TOTP, steps = 0): Promise<string> {
  const intoStep = (Date.now() / 1000) % 30;
  if (intoStep > 28) await new Promise((resolve) => setTimeout(resolve, (30.2 - intoStep) * 1000));
  return totp.generate({ timestamp: Date.now() + steps * 30_000 });
}

export const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';

export interface Flow {
  browser: Browser;
  page: Page;
  verifier: string;
  state: string;
  atCallback: (url: string) => boolean;
}

/** Opens an authorization request (openid-client builds it) and gives the password on the login page. */
export async function startSignIn(config: oidc.Configuration, user: { email: string; password: string }, { extra = {} as Record<string, string>, browser = new Browser() } = {}): Promise<Flow> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const redirectUri = (config.clientMetadata().redirect_uris as string[])[0]!;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  const atCallback = (u: string) => u.startsWith(redirectUri);
  const login = await browser.follow(url.toString(), {}, atCallback);
  if (login.status !== 200 || !login.body.includes('name="password"')) throw new Error(`expected the login page, got ${login.status}: ${login.body.slice(0, 300)}`);
  const page = await browser.submit(login, { login: user.email, password: user.password }, { field: 'login', stopAt: atCallback });
  return { browser, page, verifier, state, atCallback };
}

/** Goes on from `page` (a consent page, a recovery codes page) to the client's callback. */
export async function toCallback(flow: Flow, page: Page): Promise<Page> {
  for (let step = 0; step < 3 && !flow.atCallback(page.url); step++) {
    const next = page.body.match(/<a class="button primary" href="([^"]+)"/);
    if (next) page = await flow.browser.follow(new URL(next[1]!.replace(/&amp;/g, '&'), page.url).toString(), {}, flow.atCallback);
    else if (/\/interaction\/[^"]+\/confirm/.test(page.body)) page = await flow.browser.submit(page, {}, { stopAt: flow.atCallback });
  }
  if (!flow.atCallback(page.url)) throw new Error(`expected the client's callback, got ${page.status} ${page.url}: ${page.body.slice(0, 600)}`);
  return page;
}

/** The ID token's claims of a finished sign-in, through openid-client. */
export async function idTokenOf(config: oidc.Configuration, flow: Flow, callback: Page) {
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
  return tokens.claims()!;
}

/** Enrols TOTP from /account for a browser signed in to Gatehouse; returns the app and the recovery codes shown. */
export async function enrolFromAccount(server: TestServer, browser: Browser, steps = 0) {
  const enrol = await browser.follow(`${server.url}/account/totp`);
  const totp = authenticatorFrom(enrol);
  const done = await browser.submit(enrol, { code: await codeAt(totp, steps) }, { field: 'code' });
  return { totp, enrol, done, recoveryCodes: texts(done.body, 'data-recovery-code') };
}

/** Signs in to Gatehouse itself (`/login`, to /account) with the password, in a new browser. */
export async function signInToAccount(server: TestServer, user: { email: string; password: string }) {
  const browser = new Browser();
  const login = await browser.follow(`${server.url}/login`);
  const page = await browser.submit(login, { login: user.email, password: user.password }, { field: 'login' });
  return { browser, page };
}
