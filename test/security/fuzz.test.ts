import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { before, describe, test } from 'node:test';
import { symbols } from 'pino';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser, type TestUser } from '../helpers/fixtures.ts';
import { STORAGE, useServer } from '../helpers/server.ts';

/**
 * Issue 15: a bounded, seeded fuzzing run over the token endpoint, dynamic registration, the
 * first-party session API and the hosted forms. Every answer, whatever was sent: no 5xx, the
 * documented error shape for that kind of endpoint, and the security headers.
 *
 * Reproduce a failure with the seed its message names: `FUZZ_SEED=<seed> node --test ...`.
 * `FUZZ_REQUESTS` sends more (the default keeps the file well under a minute).
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : 0x15f00d;
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 360);

/** mulberry32: a small seeded PRNG, so one seed is one sequence of requests. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(list: readonly T[]): T => list[int(list.length)]!, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// --- values: what a field may be given -----------------------------------------------------

/** Raw bytes that are not UTF-8: a lone continuation byte, an overlong NUL, a truncated sequence, a surrogate. */
const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc0, 0x80]), Buffer.from([0xe0, 0xa4]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0x80, 0x80])];
const UNICODE = ['é', 'ｅｍａｉｌ', '👩‍💻', '\u202Eevil', 'e\u0301', '\uFEFF', 'ß', 'İ', '\u2028', '𝔞𝔟𝔠', 'Ω', '\uFFFD'];
const CONTROL = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f'];

/** A string value: plausible, empty, huge, or with control, unicode or broken bytes in it. */
function stringValue(rng: Rng, plausible: string): Buffer {
  switch (rng.int(9)) {
    case 0:
      return Buffer.from('');
    case 1:
      return Buffer.from(rng.pick(['a', 'x', '%', '&', '=', '+']).repeat(rng.pick([300, 5_000, 40_000, 70_000])));
    case 2:
      return Buffer.from(`${plausible.slice(0, rng.int(plausible.length))}${rng.pick(CONTROL)}${plausible.slice(rng.int(plausible.length))}`);
    case 3:
      return Buffer.from(`${rng.pick(UNICODE)}${plausible}${rng.pick(UNICODE)}`);
    case 4:
      return Buffer.concat([Buffer.from(plausible.slice(0, 3)), rng.pick(INVALID_UTF8), Buffer.from(plausible.slice(3))]);
    case 5:
      return Buffer.from(rng.pick(['null', 'undefined', '[]', '{}', '0', '-1', 'true', 'NaN', '1e999', "' or 1=1 --", '<script>alert(1)</script>', '../../etc/passwd', '${7*7}', '{{7*7}}']));
    default:
      return Buffer.from(plausible);
  }
}

/** Percent-encodes bytes as a form does; sometimes leaves them raw, or breaks the encoding. */
function formEncode(rng: Rng, bytes: Buffer): Buffer {
  if (rng.chance(0.1)) return bytes; // raw: '&', '=', invalid UTF-8 straight into the body
  let out = '';
  for (const b of bytes) out += /[A-Za-z0-9*\-._]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : b === 0x20 ? '+' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  if (rng.chance(0.05)) out += rng.pick(['%', '%Z', '%ZZ', '%E0%A4%A', '%00', '%C0%80']);
  return Buffer.from(out);
}

/** A JSON value for a field: right type or not. */
function jsonValue(rng: Rng, plausible: string): unknown {
  switch (rng.int(8)) {
    case 0:
      return rng.pick([null, true, false, 0, -1, 1.5, 1e308]);
    case 1:
      return [plausible, plausible];
    case 2:
      return { value: plausible, nested: { $gt: '' } };
    case 3:
      return nested(rng.int(200) + 1);
    default:
      return stringValue(rng, plausible).toString('utf8');
  }
}
const nested = (depth: number): unknown => (depth === 0 ? 'x' : [nested(depth - 1)]);

// --- requests -------------------------------------------------------------------------------

type Kind = 'oauth' | 'json' | 'page';
interface Case {
  kind: Kind;
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /** Sent in pieces with no Content-Length (chunked). */
  chunked?: boolean;
}

/** A body built from fields by a form or as JSON, then perhaps mangled as a whole. */
function body(rng: Rng, fields: Record<string, string>, { json, csrf }: { json: boolean; csrf?: string }) {
  const entries: [string, string][] = Object.entries(fields);
  if (csrf && rng.chance(0.9)) entries.push(['_csrf', csrf]);
  // Missing fields, duplicated ones, junk ones.
  const kept = entries.filter(() => !rng.chance(0.15));
  if (rng.chance(0.2) && kept.length) kept.push(rng.pick(kept));
  if (rng.chance(0.2)) kept.push([rng.pick(['__proto__', 'constructor', 'junk', 'a[b]', 'x'.repeat(300), '']), 'junk']);
  let contentType = json ? 'application/json' : 'application/x-www-form-urlencoded';
  let payload: Buffer;
  if (json) {
    const object: Record<string, unknown> = {};
    for (const [k, v] of kept) object[k] = rng.chance(0.3) ? jsonValue(rng, v) : v;
    payload = Buffer.from(
      rng.pick([
        () => JSON.stringify(object),
        () => JSON.stringify(object),
        () => JSON.stringify([object]),
        () => JSON.stringify(rng.pick(['text', 42, null, true])),
        () => JSON.stringify(object).slice(0, -1 - rng.int(5)), // truncated
        () => `{"__proto__": {"admin": true}, ${JSON.stringify(object).slice(1)}`,
        () => `${JSON.stringify(object)}${JSON.stringify(object)}`,
      ])(),
    );
    if (rng.chance(0.05)) payload = Buffer.concat([payload.subarray(0, 5), rng.pick(INVALID_UTF8), payload.subarray(5)]);
  } else {
    // The CSRF token mostly intact: a form refused for it reaches no other check.
    const mangle = (k: string) => (k === '_csrf' ? rng.chance(0.05) : rng.chance(0.5));
    const parts = kept.map(([k, v]) => Buffer.concat([formEncode(rng, Buffer.from(k)), Buffer.from('='), formEncode(rng, mangle(k) ? stringValue(rng, v) : Buffer.from(v))]));
    payload = Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from(rng.chance(0.05) ? ';' : '&'), p] : [p])));
  }
  // The whole body: empty, the other encoding, a wrong or odd content type.
  const roll = rng.int(20);
  if (roll === 0) payload = Buffer.alloc(0);
  if (roll === 1) contentType = rng.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', '*/*', '', 'application/json; charset=latin1', 'application/x-www-form-urlencoded; charset=utf-16']);
  if (roll === 2) contentType = json ? 'application/x-www-form-urlencoded' : 'application/json';
  if (roll === 3) payload = Buffer.concat([payload, Buffer.alloc(rng.pick([60 * 1024, 80 * 1024]), 'a')]);
  return { contentType, payload };
}

const ACCEPTS = ['text/html,application/xhtml+xml,*/*;q=0.8', 'application/json', '*/*', 'text/html', ''];

interface Targets {
  url: string;
  clientId: string;
  clientSecret: string;
  builtinClientId: string;
  iat: string;
  user: TestUser;
  /** A CSRF token and the cookie it belongs to, from a page of the hosted forms. */
  csrf: { token: string; cookie: string };
  /** A live sign-in's login form (`/interaction/:uid/login`) and the cookies that go with it. */
  interaction: { path: string; cookie: string };
}

function makeCase(rng: Rng, t: Targets): Case {
  const headers: Record<string, string | string[]> = { accept: rng.pick(ACCEPTS), 'x-forwarded-for': `203.0.113.${rng.int(250) + 1}` };
  const target = rng.int(10);
  let kind: Kind;
  let path: string;
  let built: { contentType: string; payload: Buffer };
  if (target <= 2) {
    // /token: client_secret_basic, client_secret_post, none; every grant type and junk.
    kind = 'oauth';
    path = rng.pick(['/token', '/token', '/token', '/token/introspection', '/token/revocation']);
    const fields: Record<string, string> = {
      grant_type: rng.pick(['client_credentials', 'authorization_code', 'refresh_token', 'password', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'implicit', '']),
      scope: rng.pick(['openid', 'openid email', 'admin', '']),
      code: 'a'.repeat(43),
      redirect_uri: 'http://127.0.0.1:9/callback',
      code_verifier: 'b'.repeat(43),
      refresh_token: 'c'.repeat(43),
      token: 'd'.repeat(43),
      resource: 'https://api.example',
    };
    const auth = rng.int(5);
    if (auth === 0) headers.authorization = `Basic ${Buffer.from(`${t.clientId}:${t.clientSecret}`).toString('base64')}`;
    if (auth === 1) {
      fields.client_id = t.clientId;
      fields.client_secret = t.clientSecret;
    }
    if (auth === 2) headers.authorization = rng.pick([`Basic ${Buffer.from(`${t.clientId}:wrong`).toString('base64')}`, 'Basic', 'Basic !!!', `Basic ${Buffer.from([0xff, 0x3a, 0xfe]).toString('base64')}`, `Basic ${'A'.repeat(5000)}`, 'Bearer x', `Basic ${Buffer.from('no-colon').toString('base64')}`]);
    if (auth === 3) {
      headers.authorization = `Basic ${Buffer.from(`${t.clientId}:${t.clientSecret}`).toString('base64')}`;
      fields.client_id = t.clientId; // two methods at once
      fields.client_secret = t.clientSecret;
    }
    if (auth === 4) fields.client_id = rng.pick([t.clientId, 'unknown', '']);
    built = body(rng, fields, { json: rng.chance(0.1) });
  } else if (target === 3) {
    kind = 'oauth';
    path = '/reg';
    headers.authorization = rng.chance(0.85) ? `Bearer ${t.iat}` : rng.pick(['Bearer', 'Bearer x', `Basic ${t.iat}`]);
    const metadata = {
      client_name: 'Fuzz',
      redirect_uris: 'https://rp.example/cb',
      token_endpoint_auth_method: rng.pick(['client_secret_basic', 'none', 'private_key_jwt', 'client_secret_post', 'tls_client_auth']),
      grant_types: rng.pick(['authorization_code', 'client_credentials', 'refresh_token', 'implicit']),
      response_types: 'code',
      client_description: 'about',
      backchannel_logout_uri: 'https://rp.example/logout',
      jwks_uri: 'https://rp.example/jwks',
      logo_uri: 'javascript:alert(1)',
    };
    built = body(rng, metadata, { json: rng.chance(0.9) });
    // Lists as lists, the way registration wants them, most of the time.
    if (built.contentType === 'application/json' && rng.chance(0.6)) {
      try {
        const parsed = JSON.parse(built.payload.toString()) as Record<string, unknown>;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          for (const key of ['redirect_uris', 'grant_types', 'response_types']) if (typeof parsed[key] === 'string') parsed[key] = [parsed[key]];
          built.payload = Buffer.from(JSON.stringify(parsed));
        }
      } catch {
        // Broken on purpose; sent as it is.
      }
    }
  } else if (target <= 5) {
    kind = 'json';
    path = rng.pick(['/session/login', '/session/login', '/session/refresh', '/session/logout']);
    headers.origin = rng.chance(0.9) ? t.url : rng.pick(['null', 'https://evil.example', '']);
    if (rng.chance(0.3)) headers.cookie = rng.pick(['gatehouse_rt=x', `gatehouse_rt=${'a'.repeat(4000)}`, 'gatehouse_rt=eyJhbGciOiJub25lIn0.e30.', 'gatehouse_at=%00', 'gatehouse_rt=a; gatehouse_rt=b']);
    const fields = { client_id: rng.pick([t.builtinClientId, t.clientId, 'unknown']), login: rng.pick([t.user.email, 'someone', 'nobody@example.com']), password: rng.pick([t.user.password, 'wrong']), captcha: 'x' };
    built = body(rng, fields, { json: rng.chance(0.85) });
  } else {
    kind = 'page';
    const form = rng.pick<{ path: string; fields: Record<string, string> }>([
      { path: '/register', fields: { name: 'Fuzz Person', email: `fuzz-${rng.int(1e9)}@example.com`, username: `fuzz${rng.int(1e6)}`, password: 'a perfectly fine passphrase' } },
      { path: '/forgot-password', fields: { email: t.user.email } },
      { path: '/verify-email/resend', fields: { email: t.user.email, interaction: 'abcdefgh12345678' } },
      { path: '/reset-password', fields: { token: 'e'.repeat(43), new_password: 'another fine passphrase' } },
      { path: t.interaction.path, fields: { login: t.user.email, password: 'wrong' } },
      { path: '/interaction/abcdefgh12345678/login', fields: { login: t.user.email, password: 'wrong' } },
    ]);
    path = form.path;
    if (rng.chance(0.9)) headers.cookie = path === t.interaction.path ? t.interaction.cookie : t.csrf.cookie;
    built = body(rng, form.fields, { json: rng.chance(0.1), csrf: t.csrf.token });
  }
  if (built.contentType) headers['content-type'] = built.contentType;
  // Header-level junk: a duplicated content type, an odd method now and then.
  if (rng.chance(0.03)) headers['content-type'] = [built.contentType || 'text/plain', 'application/json'];
  const method = rng.chance(0.04) ? rng.pick(['PUT', 'DELETE', 'PATCH', 'GET']) : 'POST';
  // node:http frames a body as chunked by default only for POST, PUT and PATCH: a DELETE's would
  // be unframed bytes, another (broken) request on the connection, not this one.
  const chunked = rng.chance(0.15) && method !== 'DELETE';
  return { kind, method, path, headers, body: method === 'GET' ? undefined : built.payload, chunked };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends a case with node:http (fetch would tidy up what the fuzzer means to send). */
function send(base: string, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...c.headers };
    if (c.body && !c.chunked) headers['content-length'] = String(c.body.length);
    const req = httpRequest(`${base}${c.path}`, { method: c.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer (413, 415) and close before the whole body is written.
    req.on('error', (err) => reject(err));
    if (c.body && c.chunked) {
      const cut = Math.floor(c.body.length / 2);
      req.write(c.body.subarray(0, cut));
      req.end(c.body.subarray(cut));
    } else req.end(c.body);
  });
}

// --- what every answer must be --------------------------------------------------------------

/** RFC 6749 §5.2, RFC 7009, RFC 7662, RFC 7591 §3.2.2, RFC 6750 §3.1, RFC 9449, and §4.1.2.1 for 503. */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'unsupported_token_type',
  'invalid_token',
  'invalid_client_metadata',
  'invalid_redirect_uri',
  'invalid_software_statement',
  'unapproved_software_statement',
  'invalid_dpop_proof',
  'temporarily_unavailable',
]);
/** Ours, on the provider's routes, for what happens before the provider reads a request (src/http/errors.ts). */
const GATEHOUSE_ON_OAUTH = new Set(['PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'METHOD_NOT_ALLOWED', 'NOT_FOUND', 'BAD_REQUEST']);
const OUR_CODE = /^[A-Z][A-Z0-9_]*$/;

/** The headers every answer carries (src/security/headers.ts, src/http/errors.ts). */
function checkHeaders(a: Answer) {
  assert.equal(a.headers['x-content-type-options'], 'nosniff', 'X-Content-Type-Options');
  assert.match(String(a.headers['content-security-policy'] ?? ''), /frame-ancestors 'none'/, 'a Content-Security-Policy');
  assert.match(String(a.headers['x-frame-options'] ?? ''), /^(DENY|SAMEORIGIN)$/, 'X-Frame-Options');
  assert.equal(a.headers['referrer-policy'], 'same-origin', 'Referrer-Policy');
  if (a.status >= 400) assert.match(String(a.headers['cache-control'] ?? ''), /no-store/, 'an error is never cached');
}

function json(a: Answer): Record<string, unknown> {
  assert.match(String(a.headers['content-type'] ?? ''), /^application\/json/, 'JSON');
  const parsed = JSON.parse(a.body) as unknown;
  assert.ok(parsed && typeof parsed === 'object' && !Array.isArray(parsed), 'a JSON object');
  return parsed as Record<string, unknown>;
}

/** Our API error shape: `{error: CODE, message}` (CONTRACT.md "Admin API", src/http/errors.ts). */
function checkOurError(body: Record<string, unknown>) {
  assert.match(String(body.error), OUR_CODE, 'error is one of our codes');
  assert.equal(typeof body.message, 'string', 'with a message');
}

function checkAnswer(c: Case, a: Answer) {
  assert.ok(a.status < 500, `no 5xx (got ${a.status})`);
  checkHeaders(a);
  if (c.kind === 'oauth') {
    // RFC 7009 §2.2: a revocation succeeds with an empty 200.
    if (a.status < 400) return c.path === '/token/revocation' && a.body === '' ? undefined : void json(a);
    const body = json(a);
    if (GATEHOUSE_ON_OAUTH.has(String(body.error))) return checkOurError(body);
    assert.ok(OAUTH_ERRORS.has(String(body.error)), `error ${JSON.stringify(body.error)} is a documented OAuth error`);
    if (body.error_description !== undefined) assert.equal(typeof body.error_description, 'string', 'error_description is a string');
    return;
  }
  if (c.kind === 'json') {
    if (a.status === 204) return assert.equal(a.body, '', 'no content');
    if (a.status < 300) return void json(a);
    return checkOurError(json(a));
  }
  // Pages: a redirect, an HTML page, or our JSON error to a caller that does not take HTML.
  if (a.status >= 300 && a.status < 400) return assert.ok(a.headers.location, 'a redirect says where');
  const type = String(a.headers['content-type'] ?? '');
  if (type.startsWith('text/html')) return assert.match(a.body, /<html/i, 'an HTML page');
  assert.ok(!String(c.headers.accept).includes('text/html'), `a browser gets HTML (got ${type})`);
  return checkOurError(json(a));
}

/** What a failure message shows of a case: enough to read it, not 70 KiB of padding. */
function describeCase(c: Case) {
  const bodyText = c.body ? JSON.stringify(c.body.subarray(0, 300).toString('latin1')) + (c.body.length > 300 ? `... (${c.body.length} bytes)` : '') : '(none)';
  const headers = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, String(v).slice(0, 120)]));
  return `${c.method} ${c.path}${c.chunked ? ' (chunked)' : ''}\nheaders: ${JSON.stringify(headers)}\nbody: ${bodyText}`;
}

describe(`fuzzing the token, registration, session and form endpoints (${STORAGE})`, () => {
  const ctx = useServer({ env: { TRUST_PROXY: 'true' } });
  let targets: Targets;

  before(async () => {
    const server = ctx.server;
    const client = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], scope: 'openid email' });
    const iat = await new server.services.host.provider.InitialAccessToken({ expiresIn: 600 }).save();
    const browser = new Browser();
    const form = await browser.request(`${server.url}/forgot-password`);
    const token = form.body.match(/name="_csrf" value="([^"]+)"/)?.[1];
    const host = new URL(server.url).host;
    const cookie = [...(browser.cookies.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    assert.ok(token && cookie.includes('gatehouse_csrf'), 'a CSRF token and its cookie');
    // Gatehouse's own sign-in (/login → /session/start → /auth → the login form of an interaction).
    const signIn = new Browser();
    const loginPage = await signIn.follow(`${server.url}/login`);
    const action = loginPage.body.match(/action="(\/interaction\/[^"]+\/login)"/)?.[1];
    assert.ok(action, `a login form: ${loginPage.status}`);
    const interactionCookie = [...(signIn.cookies.get(host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    targets = {
      url: server.url,
      clientId: client.client_id,
      clientSecret: String(client.client_secret),
      builtinClientId: server.config.firstParty.builtinClientId,
      iat,
      user: await createUser(server),
      csrf: { token, cookie },
      interaction: { path: action, cookie: interactionCookie },
    };
  });

  test(`${REQUESTS} requests from seed ${SEED} (FUZZ_SEED to replay) get a designed answer`, async () => {
    const rng = prng(SEED);
    // The server's log: no request may log an error, nor a job run in the background for one
    // (a reset mail). Read where pino writes it (its destination stream).
    let logged = '';
    const stream = (ctx.server.app.log as unknown as Record<symbol, { write(line: string): unknown }>)[symbols.streamSym]!;
    const write = stream.write;
    stream.write = function (this: unknown, line: string) {
      logged += line;
      return write.call(this, line);
    };
    const started = Date.now();
    const statuses: Record<number, number> = {};
    for (let i = 0; i < REQUESTS; i++) {
      const c = makeCase(rng, targets);
      let answer: Answer;
      try {
        answer = await send(ctx.server.url, c);
      } catch (err) {
        // No answer at all (a reset, a hang-up) is a failure of its own.
        throw new Error(`seed ${SEED}, request ${i}: no answer (${(err as Error).message})\n${describeCase(c)}`);
      }
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      try {
        checkAnswer(c, answer);
      } catch (err) {
        throw new Error(`seed ${SEED}, request ${i}: ${(err as Error).message}\n${describeCase(c)}\nanswer: ${answer.status} ${JSON.stringify(answer.headers)}\n${answer.body.slice(0, 500)}`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // background work of the last requests
    stream.write = write;
    const errors = logged.split('\n').filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors, [], `seed ${SEED}: no error logged`);
    console.log(`fuzz: seed ${SEED}, ${REQUESTS} requests in ${seconds.toFixed(1)} s, statuses ${JSON.stringify(statuses)}, ${logged.split('\n').length - 1} log lines, none an error`);
    assert.ok(seconds < 60, `bounded: ${seconds} s`);
  });
});
