import { createHash, randomBytes } from 'node:crypto';
import { basicAuth, expectStatus, follow, formBody, Jar, send, type Target } from './http.ts';

/**
 * What the scenarios need before they run, obtained the way an app and a user would: a
 * signed-in browser session, authorization codes, and tokens. One fixed PKCE verifier serves
 * every code (RFC 7636 binds each code to the challenge it was asked with, whatever it is).
 */
export interface BenchClient {
  client_id: string;
  client_secret: string;
  redirect_uri: string;
}

export const REDIRECT_URI = 'https://app.bench.test/cb';
export const CODE_VERIFIER = randomBytes(32).toString('base64url');
const CODE_CHALLENGE = createHash('sha256').update(CODE_VERIFIER).digest('base64url');
export const CODE_SCOPE = 'openid email profile';

export function authorizationPath(client: BenchClient, extra: Record<string, string> = {}) {
  const params = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: client.redirect_uri,
    response_type: 'code',
    scope: CODE_SCOPE,
    state: randomBytes(8).toString('base64url'),
    code_challenge: CODE_CHALLENGE,
    code_challenge_method: 'S256',
    ...extra,
  });
  return `/auth?${params}`;
}

const atCallback = (client: BenchClient) => (location: string) => location.startsWith(client.redirect_uri);

function codeOf(location: string): string {
  const url = new URL(location);
  const code = url.searchParams.get('code');
  if (!code) throw new Error(`no code in the redirect: ${location}`);
  return code;
}

/**
 * Signs the user in through the target's own sign-in: Gatehouse's hosted login form (then its
 * consent page for a third-party client); the bare provider's interaction API, which the bench
 * drives with GETs. Returns the browser (its session) and the code of this first sign-in.
 */
export async function signIn(target: Target, client: BenchClient, user: { email: string; password: string }, jar = new Jar(), address?: string) {
  let { reply, url } = await follow(target, authorizationPath(client), jar, atCallback(client), address);
  for (let step = 0; step < 4 && !atCallback(client)(url); step++) {
    const action = reply.body.match(/action="(\/interaction\/[^"]+\/(?:login|confirm))"/)?.[1];
    if (reply.status !== 200 || !action) throw new Error(`${target.name} sign-in: unexpected ${reply.status} at ${url}: ${reply.body.slice(0, 300)}`);
    const fields: Record<string, string> = action.endsWith('/login') ? { login: user.email, password: user.password } : {};
    const posted = await send(target, action, { method: 'POST', jar, address, body: formBody(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' } });
    const location = posted.headers.location as string | undefined;
    if (posted.status !== 303 || !location) throw new Error(`${target.name} sign-in: ${action} answered ${posted.status}: ${posted.body.slice(0, 300)}`);
    if (atCallback(client)(location)) return { jar, code: codeOf(location) };
    ({ reply, url } = await follow(target, location, jar, atCallback(client), address));
  }
  if (!atCallback(client)(url)) throw new Error(`${target.name} sign-in did not reach the client: ${url}`);
  return { jar, code: codeOf(url) };
}

/** One browser signed in as `user` that has given every client its consent (the first sign-in, then each client's consent). */
export async function signInToAll(target: Target, clients: BenchClient[], user: { email: string; password: string }) {
  const { jar } = await signIn(target, clients[0]!, user);
  for (const client of clients.slice(1)) await signIn(target, client, user, jar);
  return jar;
}

/** `n` authorization codes from a signed-in browser: each a GET /auth answered by a redirect with a code. */
export async function mintCodes(target: Target, client: BenchClient, jar: Jar, n: number, concurrency = 8): Promise<string[]> {
  const codes: string[] = [];
  await pool(n, concurrency, async () => {
    const reply = await send(target, authorizationPath(client), { jar });
    const location = reply.headers.location as string | undefined;
    if (!location || !atCallback(client)(location)) throw new Error(`${target.name} /auth with a session: ${reply.status} ${location ?? reply.body.slice(0, 200)}`);
    codes.push(codeOf(location));
  });
  return codes;
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  token_type: string;
  expires_in: number;
}

export async function tokenRequest(target: Target, client: BenchClient, fields: Record<string, string>): Promise<Tokens> {
  const reply = await send(target, '/token', {
    method: 'POST',
    body: formBody(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.client_id, client.client_secret) },
  });
  return JSON.parse(expectStatus(reply, 200, `${target.name} token (${fields.grant_type})`).body) as Tokens;
}

export const codeExchangeFields = (client: BenchClient, code: string) => ({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uri, code_verifier: CODE_VERIFIER });

/** Tokens from `n` fresh codes: refresh tokens to rotate, access tokens for userinfo. */
export async function userTokens(target: Target, client: BenchClient, jar: Jar, n: number): Promise<Tokens[]> {
  const codes = await mintCodes(target, client, jar, n);
  const out: Tokens[] = [];
  await pool(codes.length, 8, async (i) => void out.push(await tokenRequest(target, client, codeExchangeFields(client, codes[i]!))));
  return out;
}

/** First-party sessions of Gatehouse (`POST /session/login`): the `gatehouse_rt` cookie of each. */
export async function firstPartySessions(target: Target, clientId: string, users: { email: string; password: string }[], n: number): Promise<string[]> {
  const cookies: string[] = [];
  await pool(n, 4, async (i) => {
    const user = users[i % users.length]!;
    const jar = new Jar();
    const reply = await send(target, '/session/login', {
      method: 'POST',
      jar,
      body: JSON.stringify({ client_id: clientId, login: user.email, password: user.password }),
      headers: { 'content-type': 'application/json', origin: new URL(target.issuer).origin },
    });
    expectStatus(reply, 200, 'POST /session/login');
    const rt = jar.cookies.get('gatehouse_rt');
    if (!rt) throw new Error('POST /session/login set no gatehouse_rt cookie');
    cookies.push(rt);
  });
  return cookies;
}

/** Runs `task(i)` for i < n with at most `concurrency` at once. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}
