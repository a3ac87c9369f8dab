import { CronExpressionParser } from 'cron-parser';
import { bool, clientLimit, group, int, judged, key, limit, list, oneOf, optionalKey, text, trustProxy, url } from './values.ts';
import { z } from 'zod';

/**
 * Every configuration key, its default and what it means: the one place they are declared.
 * `src/config.ts` reads them from the defaults here, then the file named by GATEHOUSE_CONFIG
 * (JSON or YAML, keys as below), then the environment variables named here; the README's
 * reference is generated from this file (`npm run config:reference`).
 */

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The secret used when `SECRETS` is unset. Production refuses to start with it. */
export const DEV_SECRET = 'gatehouse-development-secret-do-not-use-in-production';

/**
 * Secrets that appear in this repository (the development default, samples in the compose file
 * of earlier versions and in the docs). Anyone can read them, so production refuses each one;
 * test/ops/config.test.ts checks that every SECRETS value written in the repository is here.
 */
export const PUBLISHED_SECRETS: readonly string[] = [
  DEV_SECRET,
  'compose-local-only-secret-replace-me-0123456789',
  'replace-me-with-32-or-more-random-characters',
];

/** Environment variables that are not keys of the file (the README lists them first). */
export const ENV_ONLY = [
  {
    env: 'GATEHOUSE_CONFIG',
    doc: 'path to a JSON (`.json`) or YAML file setting any key below; the environment variables override it',
  },
  {
    env: 'NODE_ENV',
    doc: '`production` refuses an http issuer that is not localhost, dev features, and published secrets. Environment only: libraries read it too',
  },
] as const;



const CRON_ACCEPTS =
  'a cron expression of 5 fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-7), or 6 with seconds first, such as "*/5 * * * *"';

/**
 * Why `v` is not a schedule the job runner can keep, or undefined when it is. The runner
 * (Agenda) reads the expression with cron-parser, so the same parser checks it here, and
 * computes a first run as Agenda will. The field count is ours: cron-parser would fill in
 * missing fields (`*` alone passes), and its strict mode wants exactly 6.
 */
function cronProblem(v: string): string | undefined {
  const fields = v.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return `it has ${fields} field${fields === 1 ? '' : 's'}`;
  try {
    CronExpressionParser.parse(v.trim()).next();
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/\s+/g, ' ');
  }
}
/** Registrations from one address in a window before a configured captcha is asked (`rateLimits.register.captchaAfter`). */
export const REGISTER_CAPTCHA_AFTER = 10;
const oneLine = (v: string) => v.length > 0 && !/[\r\n]/.test(v);
const hexColor = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;

export const configSchema = z.strictObject({
  port: key(int(0, 65535), 3000, 'HTTP port', { env: 'PORT' }),
  host: key(text('a host name or address'), '127.0.0.1', 'bind address (`0.0.0.0` in containers)', { env: 'HOST' }),
  metricsPort: optionalKey(int(1, 65535), '`GET /metrics` on this port (on `host`) instead of the app port, so it is not public; give the worker its own', {
    env: 'METRICS_PORT',
    defaultText: 'unset: `/metrics` on the app port',
  }),
  issuer: optionalKey(
    url(['http:', 'https:'], { expected: 'without trailing slash, query or fragment', check: (v) => !v.endsWith('/') && !new URL(v).search && !new URL(v).hash }),
    'the issuer URL exactly as clients see it',
    { env: 'ISSUER', defaultText: '`http://localhost:$PORT`' },
  ),
  databaseUrl: optionalKey(url(['postgres:', 'postgresql:']), 'Postgres connection string', { env: 'DATABASE_URL', defaultText: 'unset: embedded PGlite in `dataDir`' }),
  dataDir: key(text('a directory path'), './.data', 'where the embedded database lives (relative to the working directory)', { env: 'DATA_DIR' }),
  redisUrl: optionalKey(url(['redis:', 'rediss:']), 'Redis for OIDC storage, rate limits and cache (Redis 7+)', {
    env: 'REDIS_URL',
    defaultText: 'unset: OIDC storage in Postgres, rate limits in memory',
  }),
  redisClusterNodes: optionalKey(
    list('comma-separated host:port of Redis Cluster nodes', (v) => /^[^\s:,]+:\d{1,5}$/.test(v), { min: 1 }),
    'a Redis Cluster (any of its nodes; the rest are discovered), used instead of `redisUrl`',
    { env: 'REDIS_CLUSTER_NODES', defaultText: 'unset' },
  ),
  smtpUrl: optionalKey(url(['smtp:', 'smtps:']), 'nodemailer transport, e.g. `smtp://user:pass@host:587`', { env: 'SMTP_URL', defaultText: 'unset: dev mailbox' }),
  mailFrom: key(text('one line of at least 3 characters', (v) => v.length >= 3 && oneLine(v)), 'Gatehouse <no-reply@localhost>', 'sender address', { env: 'MAIL_FROM' }),
  jobsBackend: key(oneOf(['postgres', 'mongodb']), 'postgres', 'where jobs are queued: `postgres` (the accounts database) or `mongodb` (with `mongodbUrl`)', {
    env: 'JOBS_BACKEND',
  }),
  mongodbUrl: optionalKey(url(['mongodb:', 'mongodb+srv:']), 'MongoDB for jobs when `jobsBackend` is `mongodb`', { env: 'MONGODB_URL' }),
  shutdownTimeoutSeconds: key(
    int(1, 3600),
    10,
    'on SIGTERM/SIGINT: stop accepting, finish in-flight requests (`http.closeGraceMs`) and running jobs (`jobs.drainMs`) within this long, close pools, exit 0; a close still stuck then exits 1',
    { env: 'SHUTDOWN_TIMEOUT_SECONDS' },
  ),
  worker: key(oneOf(['inline', 'off']), 'inline', '`inline` runs jobs in the web process; `off` leaves them to `npm run worker`', { env: 'WORKER' }),
  emailResendCron: key(
    judged(CRON_ACCEPTS, cronProblem),
    '*/5 * * * *',
    'when the resend job looks for e-mails that failed to send',
    { env: 'EMAIL_RESEND_CRON' },
  ),
  captcha: group('Captcha on registration, password-reset requests, `POST /session/login`, and sign-in after failures', {
    provider: key(oneOf(['none', 'recaptcha', 'hcaptcha', 'turnstile']), 'none', 'captcha provider', { env: 'CAPTCHA_PROVIDER' }),
    siteKey: optionalKey(text('a non-empty string'), "the provider's site key", { env: 'CAPTCHA_SITE_KEY' }),
    secret: optionalKey(text('a non-empty string'), "the provider's secret", { env: 'CAPTCHA_SECRET', sensitive: 'secret' }),
    verifyUrl: optionalKey(url(['http:', 'https:']), 'siteverify URL override', { env: 'CAPTCHA_VERIFY_URL', defaultText: "the provider's" }),
  }),
  cookieDomain: optionalKey(
    text('a domain name such as example.com', (v) => /^[a-z0-9.-]+$/i.test(v)),
    'parent domain for first-party cookies',
    { env: 'COOKIE_DOMAIN', defaultText: 'unset (host-only cookies)' },
  ),
  sessionRefreshGraceSeconds: key(
    int(0, 300),
    5,
    'a rotated first-party refresh token presented again within this many seconds gets the same successor (two tabs refreshing at once) instead of counting as reuse',
    { env: 'SESSION_REFRESH_GRACE_SECONDS' },
  ),
  trustProxy: optionalKey(trustProxy, "Fastify's `trustProxy`, so that client addresses are the client's behind a proxy", { env: 'TRUST_PROXY' }),
  logLevel: key(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info', 'pino log level', { env: 'LOG_LEVEL' }),
  secrets: optionalKey(
    list('a list of secrets of at least 32 characters each (comma-separated in SECRETS)', (v) => v.length >= 32, { min: 1 }),
    'secrets, newest first: encrypt signing keys and client secrets at rest, sign cookies. Rotate by putting a new one first and keeping the old ones until nothing needs them',
    { env: 'SECRETS', defaultText: 'a development secret (refused in production)', sensitive: 'secret' },
  ),
  devFeatures: optionalKey(bool, 'the dev mailbox and other development helpers', { env: 'DEV_FEATURES', defaultText: 'on outside production' }),

  ttl: group('Token and session lifetimes, in seconds', {
    authorizationCode: key(int(1, 60), 60, 'authorization codes: RFC 9700 §4.2.3 wants them short-lived; 60 s is the most allowed'),
    accessToken: key(int(1), 10 * MINUTE, 'access tokens'),
    idToken: key(int(1), HOUR, 'ID tokens'),
    refreshToken: key(int(1), 14 * DAY, 'refresh tokens'),
    clientCredentials: key(int(1), 10 * MINUTE, 'client-credentials access tokens'),
    interaction: key(int(1), HOUR, 'a sign-in or consent in progress'),
    session: key(int(1), 14 * DAY, "the provider's sign-in session"),
    grant: key(int(1), 14 * DAY, "a user's grant to a client"),
  }),
  retiredKeyGraceSeconds: key(int(0), DAY, 'a retired signing key stays in the JWKS this long, so tokens it signed still verify'),
  keyPollSeconds: key(int(1), 5, 'how often a running server looks for keys rotated by `gatehouse keys rotate` (one small query)'),
  argon2: group('Password hashing; OWASP Password Storage Cheat Sheet: argon2id m=19 MiB, t=2, p=1', {
    memoryCost: key(int(8 * 1024), 19_456, 'memory, in KiB'),
    timeCost: key(int(1), 2, 'iterations'),
    parallelism: key(int(1, 16), 1, 'lanes'),
  }),
  embeddedMaxConnections: key(int(1, 32), 4, 'embedded Postgres: the knex pool size (the one backend serves connections in turn)'),
  redisPrefix: key(text('a non-empty string'), 'gatehouse:', 'Redis keys of this process start with this prefix (several deployments may share one Redis)', { env: 'REDIS_PREFIX' }),
  allowPrivateNetworkFetch: key(
    bool,
    false,
    'let oidc-provider fetch from loopback and private addresses (back-channel logout, client JWKS, sector identifiers), refused by default against SSRF; for apps on a private network',
  ),

  rateLimits: group(
    'Request limits (ASVS V2.4, RFC 9700 §4.15), per client address (set `trustProxy` behind a proxy); the token endpoint counts per client instead when the client authenticates with HTTP Basic and the right secret (src/security/client-rate-key.ts). Over the limit: 429',
    {
      // Sized for a classroom or an office behind one address: dozens of sign-ups in ten minutes.
      register: group('`POST /register`: a busy address is asked for a captcha (when one is configured) before it is refused', {
        max: key(int(1), 60, 'registrations allowed in one window from one address; then 429, a page saying when to try again'),
        windowSeconds: key(int(1), 10 * MINUTE, 'the window, in seconds, from the first request counted'),
        captchaAfter: optionalKey(
          int(0),
          'with a captcha configured, registrations past this many in the window must solve it (0: every registration). Without one, only `max` applies',
          { defaultText: `${REGISTER_CAPTCHA_AFTER}` },
        ),
      }),
      forgotPassword: limit(5, 15 * MINUTE, '`POST /forgot-password`'),
      resetPassword: limit(10, 15 * MINUTE, '`POST /reset-password`'),
      verifyEmailResend: limit(5, 15 * MINUTE, '`POST /verify-email/resend`'),
      resendVerification: limit(5, 15 * MINUTE, '`POST /resend-verification`'),
      sessionLogin: limit(20, MINUTE, '`POST /session/login`'),
      sessionRefresh: limit(120, MINUTE, '`POST /session/refresh`'),
      sessionLogout: limit(60, MINUTE, '`POST /session/logout`'),
      sessionStart: limit(60, MINUTE, '`GET /session/start`'),
      interaction: limit(30, MINUTE, '`POST /interaction/*` (sign-in and consent in an OIDC flow)'),
      // Apps call these from their servers: generous, as they stop floods, while guessing is
      // stopped by the secrets and codes themselves.
      token: clientLimit(1200, 12_000, MINUTE, '`POST /token`: `clientMax` per client that authenticates with HTTP Basic and its secret (one app server speaks for all its users), else `max` per address'),
      introspectionRevocation: clientLimit(2400, 24_000, MINUTE, '`POST /token/introspection` and `/token/revocation`, counted as `token` is'),
      clientRegistration: limit(10, MINUTE, '`POST /reg` (dynamic client registration)'),
    },
  ),

  email: group(
    'Self-service e-mail: confirmation and reset links, and the outbox that sends them (`smtpUrl`, `mailFrom`, `jobsBackend`, `worker` and `emailResendCron` are above)',
    {
      verifyTokenTtlSeconds: key(int(1), DAY, 'a confirmation link works this long'),
      resetTokenTtlSeconds: key(int(1), HOUR, 'a password-reset link works this long'),
      maxAttempts: key(int(1), 8, 'delivery attempts before a message is marked dead (a 5xx answer makes it dead at once)'),
      retryBaseSeconds: key(int(1), 60, 'the wait after the first failed attempt; each further failure doubles it...'),
      retryMaxSeconds: key(int(1), HOUR, '...up to this much'),
      sendLeaseSeconds: key(
        int(1),
        5 * MINUTE,
        'how long a worker owns a message it is sending: a worker killed mid-send holds it this long, then the resend job takes it over. Longer than one SMTP conversation can last (`smtpTimeouts`)',
      ),
      smtpTimeouts: group('nodemailer timeouts, in milliseconds', {
        connectionMs: key(int(1), 15_000, 'connecting'),
        greetingMs: key(int(1), 15_000, 'waiting for the server greeting'),
        socketMs: key(int(1), 60_000, 'socket inactivity'),
      }),
      queuedGraceSeconds: key(int(0), 60, 'a queued message whose send job has not run after this long is sent by the resend job (the job may never have been enqueued)'),
      resendBatchSize: key(int(1), 100, 'the most messages one run of the resend job delivers; the next run takes the rest'),
      perAddressIntervalSeconds: key(int(0), 60, 'at most one confirmation or reset mail per address in this many seconds (inbox flooding)'),
      passwordHistory: key(int(0, 24), 5, 'a new password must differ from this many most recent ones, the current one included'),
    },
  ),
  jobs: group('Agenda, the job queue that sends e-mail', {
    processEveryMs: key(int(50), 5_000, 'how often a worker looks for due jobs, in ms; on Postgres, notifications wake it sooner'),
    concurrency: key(int(1), 5, 'jobs one worker runs at once'),
    lockLifetimeMs: key(
      int(1_000),
      60_000,
      "Agenda's lock on a running job, in ms. It need not cover a whole send: the outbox's own lease decides who sends (a job whose lock lapsed is at most tried again, and loses the claim)",
    ),
    drainMs: key(int(0), 6_000, 'on shutdown, how long a worker waits for running jobs before leaving them to the lease, in ms; less than `shutdownTimeoutSeconds`'),
  }),
  firstParty: group('First-party apps\' cookies (`gatehouse_at`, `gatehouse_rt`); the refresh grace is `sessionRefreshGraceSeconds`', {
    accessTokenTtlSeconds: key(
      int(1),
      10 * MINUTE,
      'lifetime of `gatehouse_at`: minutes, because an RFC 9068 access token is verified without asking Gatehouse and so cannot be revoked before it expires',
    ),
    refreshIdleSeconds: key(int(1), 14 * DAY, '`gatehouse_rt` slides: each refresh extends it by this much (RFC 9700 §4.14.2)'),
    refreshAbsoluteSeconds: key(int(1), 30 * DAY, 'however often it is refreshed, a sign-in ends this long after the password was given'),
    loginFlowSeconds: key(int(1), 30 * MINUTE, 'how long a `/session/start` sign-in may take before its state cookie expires'),
    builtinClientId: key(
      text('a client id of letters, digits, `-`, `_` or `.`', (v) => /^[A-Za-z0-9._-]{1,100}$/.test(v)),
      'gatehouse',
      "Gatehouse's own first-party client (created on start): `/login` signs in to `/account` with it",
    ),
  }),
  passwordPolicy: group(
    'Password rules (NIST SP 800-63B-4 §3.1.1.2, ASVS V6.2); lengths count Unicode code points after NFKC; no composition rules',
    {
      minLength: key(int(8, 64), 12, 'shortest password (ASVS V6.2.1 asks for at least 8)'),
      maxLength: key(int(64, 4096), 1024, 'longest password; longer ones are refused, never truncated (ASVS V6.2.8, V6.2.9)'),
      blockedWords: key(list('a list of words'), ['gatehouse'], 'context-specific words a password may not contain, such as the name of the service'),
    },
  ),
  throttle: group(
    'Brute-force protection of password logins (ASVS V6.3.1, NIST SP 800-63B-4 §3.2.2). Failures count per account and per client address (IPv6 by /64), each in a window from its first failure. Past the lock, every attempt for that login (an account or not) answers 429 "too many attempts", and the owner gets one notice',
    {
      account: group('per account (the normalised login)', {
        windowSeconds: key(int(1), 5 * MINUTE, 'failures count for this long from the first one'),
        captchaAfter: key(int(1), 3, 'after this many failures the next attempt needs a captcha'),
        lockAfter: key(int(1), 5, 'this many failures lock the account...'),
        lockSeconds: key(int(1), 15 * MINUTE, '...for this long; the count starts afresh when the lock ends'),
      }),
      ip: group('per client address: looser, as many people may share one (offices, carrier NAT)', {
        windowSeconds: key(int(1), 5 * MINUTE, 'failures count for this long from the first one'),
        captchaAfter: key(int(1), 10, 'after this many failures the next attempt needs a captcha'),
        lockAfter: key(int(1), 100, 'this many failures lock the address...'),
        lockSeconds: key(int(1), 15 * MINUTE, '...for this long'),
      }),
      delay: group('progressive delay before the password check', {
        baseMs: key(int(0), 500, 'after one failure of the account, in ms; doubling with each further failure...'),
        maxMs: key(int(0), 8_000, '...up to this much'),
      }),
    },
  ),
  http: group(
    'HTTP connection limits (src/http/connections.ts): a client that sends slowly, stalls or never reads must not hold a connection, nor a shutdown, for long',
    {
      headersTimeoutMs: key(int(1), 10_000, 'the request line and headers must arrive within this (slowloris); Node\'s default is 60 s'),
      requestTimeoutMs: key(int(1), 30_000, 'the whole request, headers and body, must arrive within this; then the answer is 408 and the connection closes'),
      connectionTimeoutMs: key(
        int(1),
        60_000,
        'a connection on which no byte moves either way for this long is closed; longer than the slowest handler (the progressive login delay plus a captcha siteverify)',
      ),
      keepAliveTimeoutMs: key(int(1), 72_000, 'an idle keep-alive connection stays open this long: longer than load balancers\' idle timeouts (60 s on AWS ALB)'),
      timeoutCheckIntervalMs: key(int(1), 1_000, 'how often Node checks the header and request deadlines'),
      closeGraceMs: key(int(0), 5_000, 'on shutdown, requests in flight get this long to finish; then every connection still open is closed; less than `shutdownTimeoutSeconds`'),
    },
  ),
  securityEvents: group('The security event log (`npx gatehouse events`)', {
    retentionDays: key(int(1), 90, 'events older than this are deleted by the periodic sweep'),
  }),
  brand: group('Branding on pages and e-mails', {
    name: key(text('one line of at most 60 characters', (v) => oneLine(v) && v.length <= 60), 'Gatehouse', 'product name', { env: 'BRAND_NAME' }),
    logoUrl: optionalKey(
      text('an https URL, an http URL on localhost or 127.0.0.1, or a path on this server starting with /', (v) =>
        /^\/[^/\\\s]\S*$/.test(v) || /^https:\/\/[^\s/]+(\/\S*)?$/.test(v) || /^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/\S*)?$/.test(v),
      ),
      'logo image shown beside the name (pages show it as it is; e-mails need an absolute URL, a path is made one with `issuer`)',
      { env: 'BRAND_LOGO_URL', defaultText: 'none' },
    ),
    color: key(
      text('a hex colour such as #2450c9 or #25c', (v) => hexColor.test(v)),
      '#2450c9',
      'accent colour of buttons and links; the text on it (white or near-black) and the links\' shade in each theme are computed to keep 4.5:1 contrast',
      { env: 'BRAND_COLOR' },
    ),
  }),
  mfa: group('Multi-factor policy: who signs in with a second factor (TOTP) whatever the client asks; an account with a factor is always asked for it', {
    requireForRoles: key(list('a list of role names'), ['admin'], 'accounts with any of these roles must sign in with a second factor, and enrol one at their next sign-in if they have none'),
    requireForEveryone: key(bool, false, 'every account must sign in with a second factor'),
  }),
});

export type Settings = z.output<typeof configSchema>;

/** Every key at its default (`issuer`, `secrets` and `devFeatures` are computed by src/config.ts). */
export const defaults: Settings = configSchema.parse({});
