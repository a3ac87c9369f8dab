import type { Request } from 'autocannon';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { basicAuth, clientAddress, formBody, send, type Jar, type Target } from './http.ts';
import { codeExchangeFields, firstPartySessions, mintCodes, tokenRequest, userTokens, type BenchClient } from './setup.ts';

/**
 * The measured requests. Each scenario prepares what its requests need (codes, tokens,
 * sessions) the way an app would get them, then hands autocannon requests whose every answer
 * is checked: a 4xx/5xx is an error (run.ts), and so is a 2xx whose body is not what the
 * endpoint must return (`invalid`). After a round, one answer is checked in depth: signatures
 * verified against the target's JWKS, opaque tokens introspected.
 */
export interface TargetState {
  target: Target;
  /** The target's clients (targets.ts CLIENT_COUNT), used in turn by the token scenarios. */
  clients: BenchClient[];
  /** Which client asked last. */
  turn?: number;
  /** A browser signed in to the target, with every client's consent given. */
  jar: Jar;
  /** Accounts of the target (the first signs in to `jar`). */
  users: { email: string; password: string }[];
  firstPartyClientId?: string;
  /** Whatever a scenario keeps between rounds (token pools), each token with the client it belongs to. */
  pools: Record<string, Owned[]>;
  jwks?: JSONWebKeySet;
}

export interface Round {
  requests: Request[];
  /** Stop after this many requests instead of after the duration (single-use codes). */
  amount?: number;
  counters: { invalid: number; last?: { body: string; headers: Record<string, string | string[]> } };
  deepCheck(): Promise<void>;
}

export interface Scenario {
  id: string;
  label: string;
  gatehouseOnly?: boolean;
  init?(s: TargetState): Promise<void>;
  round(s: TargetState, connections: number, seconds: number, expectedRps: number): Promise<Round>;
}

/** A token or code and the client it was issued to (who must present it). */
export interface Owned {
  client: BenchClient;
  value: string;
}

type Validate = (body: string, headers: Record<string, string | string[]>) => boolean;

interface Spec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Per request: extra headers and body (a token from a pool) and the client that asks. */
  setup?: () => { headers?: Record<string, string>; body?: string; client?: BenchClient };
  validate: Validate;
  /** On a valid answer (puts a rotated token back in its pool, with the client that asked). */
  onValid?: (body: string, headers: Record<string, string | string[]>, client?: BenchClient) => void;
}

/** One autocannon request of `spec`, with a new client address each time and every answer checked. */
function measured(spec: Spec, counters: Round['counters']): Request {
  return {
    method: spec.method,
    path: spec.path,
    headers: spec.headers ?? {},
    body: spec.body,
    setupRequest(req, context) {
      const extra = spec.setup?.();
      req.headers = { ...req.headers, ...extra?.headers, 'x-forwarded-for': clientAddress() };
      if (extra?.body !== undefined) req.body = extra.body;
      // A connection has one request in flight: its context says whose answer comes back.
      context.client = extra?.client;
      return req;
    },
    onResponse(status, body, context, headers) {
      if (status >= 400) return;
      if (!spec.validate(body, headers)) counters.invalid++;
      else {
        counters.last = { body, headers };
        spec.onValid?.(body, headers, context.client as BenchClient | undefined);
      }
    },
  };
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const authOf = (c: BenchClient) => ({ authorization: basicAuth(c.client_id, c.client_secret) });
/** The target's next client, in turn. */
function nextClient(s: TargetState): BenchClient {
  s.turn = ((s.turn ?? -1) + 1) % s.clients.length;
  return s.clients[s.turn]!;
}
const audiences = (s: TargetState) => s.clients.map((c) => c.client_id);
const json = <T>(body: string) => JSON.parse(body) as T;
const isJwt = (t: unknown) => typeof t === 'string' && /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(t);
const isOpaque = (t: unknown) => typeof t === 'string' && /^[\w-]{32,}$/.test(t);

function tokenValid(check: (t: Record<string, unknown>) => boolean): Validate {
  return (body) => {
    try {
      const t = json<Record<string, unknown>>(body);
      return t.token_type === 'Bearer' && typeof t.expires_in === 'number' && check(t);
    } catch {
      return false;
    }
  };
}

async function verifyJwt(s: TargetState, token: string, audience: string | string[]) {
  s.jwks ??= json<JSONWebKeySet>((await send(s.target, '/jwks')).body);
  await jwtVerify(token, createLocalJWKSet(s.jwks), { issuer: s.target.issuer, audience });
}

function lastJson(counters: Round['counters']): Record<string, string> {
  if (!counters.last) throw new Error('no valid answer to check');
  return json(counters.last.body);
}

const EMPTY: Owned = { client: { client_id: 'pool-empty', client_secret: '', redirect_uri: '' }, value: 'pool-empty' };
/** Takes from a pool, round robin (reusable tokens) or for good (single-use ones). */
function take(pool: Owned[], reuse: boolean, counter = { i: 0 }): Owned {
  return (reuse ? pool[counter.i++ % pool.length] : pool.pop()) ?? EMPTY;
}

/** `n` of something made per client, spread evenly over the target's clients. */
async function perClient(s: TargetState, n: number, make: (client: BenchClient, count: number) => Promise<string[]>): Promise<Owned[]> {
  const out: Owned[] = [];
  const each = Math.ceil(n / s.clients.length);
  for (const client of s.clients) out.push(...(await make(client, each)).map((value) => ({ client, value })));
  return out;
}

const clientCredentials = (id: string, label: string, resource: boolean): Scenario => ({
  id,
  label,
  async round(s) {
    const counters: Round['counters'] = { invalid: 0 };
    const fields = (client: BenchClient): Record<string, string> =>
      resource ? { grant_type: 'client_credentials', resource: `${s.target.issuer}/clients/${client.client_id}` } : { grant_type: 'client_credentials' };
    const validate = tokenValid((t) => (resource ? isJwt(t.access_token) : isOpaque(t.access_token)));
    const setup = () => {
      const client = nextClient(s);
      return { client, headers: authOf(client), body: formBody(fields(client)) };
    };
    return {
      counters,
      requests: [measured({ method: 'POST', path: '/token', headers: form, setup, validate }, counters)],
      async deepCheck() {
        const token = lastJson(counters).access_token!;
        if (resource) return verifyJwt(s, token, audiences(s));
        // A confidential client may introspect any client's token (oidc-provider's default policy).
        const reply = await send(s.target, '/token/introspection', { method: 'POST', headers: { ...form, ...authOf(s.clients[0]!) }, body: formBody({ token }) });
        if (!json<{ active: boolean }>(reply.body).active) throw new Error(`${s.target.name}: an issued token is not active`);
      },
    };
  },
});

const withIdToken = tokenValid((t) => isOpaque(t.access_token) && isOpaque(t.refresh_token) && isJwt(t.id_token));

export const SCENARIOS: Scenario[] = [
  clientCredentials('cc-opaque', 'client credentials (opaque)', false),
  clientCredentials('cc-jwt', 'client credentials (JWT, RFC 9068)', true),
  {
    id: 'code',
    label: 'authorization code exchange',
    async round(s, connections, seconds, expectedRps) {
      // Codes live 60 s: minted just before the round, as many as it should use.
      const wanted = Math.min(6000, Math.max(connections * 4, Math.round(expectedRps * seconds)));
      const codes = await perClient(s, wanted, (client, n) => mintCodes(s.target, client, s.jar, n));
      const counters: Round['counters'] = { invalid: 0 };
      const spec: Spec = {
        method: 'POST',
        path: '/token',
        headers: form,
        setup: () => {
          const { client, value } = take(codes, false);
          return { client, headers: authOf(client), body: formBody(codeExchangeFields(client, value)) };
        },
        validate: withIdToken,
      };
      return { counters, amount: codes.length, requests: [measured(spec, counters)], deepCheck: () => verifyJwt(s, lastJson(counters).id_token!, audiences(s)) };
    },
  },
  {
    id: 'refresh',
    label: 'refresh token (rotated)',
    async round(s, connections) {
      const counters: Round['counters'] = { invalid: 0 };
      // A token in flight when a round stops is rotated but its successor never read: top up.
      const pool = (s.pools.refresh ??= []);
      const missing = 2 * connections + 16 - pool.length;
      if (missing > 0) pool.push(...(await perClient(s, missing, async (client, n) => (await userTokens(s.target, client, s.jar, n)).map((t) => t.refresh_token!))));
      const spec: Spec = {
        method: 'POST',
        path: '/token',
        headers: form,
        setup: () => {
          const { client, value } = take(pool, false);
          return { client, headers: authOf(client), body: formBody({ grant_type: 'refresh_token', refresh_token: value }) };
        },
        validate: withIdToken,
        onValid: (body, _headers, client) => void pool.push({ client: client!, value: json<{ refresh_token: string }>(body).refresh_token }),
      };
      return { counters, requests: [measured(spec, counters)], deepCheck: () => verifyJwt(s, lastJson(counters).id_token!, audiences(s)) };
    },
  },
  {
    id: 'userinfo',
    label: 'userinfo',
    async init(s) {
      s.pools.access = (await userTokens(s.target, s.clients[0]!, s.jar, 16)).map((t) => ({ client: s.clients[0]!, value: t.access_token }));
    },
    async round(s) {
      const counters: Round['counters'] = { invalid: 0 };
      const next = { i: 0 };
      const validate: Validate = (body) => body.startsWith('{"sub":"') && body.includes('"email":');
      const spec: Spec = { method: 'GET', path: '/me', setup: () => ({ headers: { authorization: `Bearer ${take(s.pools.access!, true, next).value}` } }), validate };
      return { counters, requests: [measured(spec, counters)], deepCheck: async () => void lastJson(counters).sub };
    },
  },
  {
    id: 'introspection',
    label: 'introspection',
    async init(s) {
      s.pools.cc = [];
      for (const client of s.clients) s.pools.cc.push({ client, value: (await tokenRequest(s.target, client, { grant_type: 'client_credentials' })).access_token });
    },
    async round(s) {
      const counters: Round['counters'] = { invalid: 0 };
      const next = { i: 0 };
      const validate: Validate = (body) => body.startsWith('{"active":true');
      const spec: Spec = {
        method: 'POST',
        path: '/token/introspection',
        headers: form,
        // Each client introspects its own tokens, as a resource server with its own credentials would.
        setup: () => {
          const { client, value } = take(s.pools.cc!, true, next);
          return { client, headers: authOf(client), body: formBody({ token: value }) };
        },
        validate,
      };
      const known = new Set(audiences(s));
      return { counters, requests: [measured(spec, counters)], deepCheck: async () => void (known.has(lastJson(counters).client_id!) || Promise.reject(new Error('wrong client_id'))) };
    },
  },
  {
    id: 'jwks',
    label: 'JWKS',
    async round(s) {
      const counters: Round['counters'] = { invalid: 0 };
      const validate: Validate = (body) => body.startsWith('{"keys":[{');
      return { counters, requests: [measured({ method: 'GET', path: '/jwks', validate }, counters)], deepCheck: async () => void createLocalJWKSet(lastJson(counters) as never) };
    },
  },
  {
    id: 'discovery',
    label: 'discovery',
    async round(s) {
      const counters: Round['counters'] = { invalid: 0 };
      const issuer = `"issuer":"${s.target.issuer}"`;
      const validate: Validate = (body) => body.includes(issuer);
      return { counters, requests: [measured({ method: 'GET', path: '/.well-known/openid-configuration', validate }, counters)], deepCheck: async () => void lastJson(counters).jwks_uri };
    },
  },
  {
    id: 'session-refresh',
    label: '/session/refresh (first-party cookies)',
    gatehouseOnly: true,
    async round(s, connections) {
      const counters: Round['counters'] = { invalid: 0 };
      // As for refresh tokens: the cookies in flight when a round stops are lost; top up.
      const pool = (s.pools.session ??= []);
      const missing = connections + 16 - pool.length;
      const client = { client_id: s.firstPartyClientId!, client_secret: '', redirect_uri: '' };
      if (missing > 0) pool.push(...(await firstPartySessions(s.target, s.firstPartyClientId!, s.users, missing)).map((value) => ({ client, value })));
      const cookieOf = (headers: Record<string, string | string[]>, name: string) =>
        [headers['set-cookie'] ?? headers['Set-Cookie'] ?? []].flat().find((c) => c.startsWith(`${name}=`))?.split(';', 1)[0]!.slice(name.length + 1);
      const spec: Spec = {
        method: 'POST',
        path: '/session/refresh',
        headers: { origin: new URL(s.target.issuer).origin },
        setup: () => ({ headers: { cookie: `gatehouse_rt=${take(pool, false).value}` } }),
        validate: (body, headers) => body.startsWith('{"sub":"') && isJwt(cookieOf(headers, 'gatehouse_at')) && isJwt(cookieOf(headers, 'gatehouse_rt')),
        onValid: (_body, headers) => void pool.push({ client, value: cookieOf(headers, 'gatehouse_rt')! }),
      };
      return {
        counters,
        requests: [measured(spec, counters)],
        deepCheck: () => verifyJwt(s, cookieOf(counters.last?.headers ?? {}, 'gatehouse_at') ?? '', s.firstPartyClientId!),
      };
    },
  },
];
