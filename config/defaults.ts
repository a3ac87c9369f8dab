/**
 * Tunables that are not environment variables. Every value here is a documented default;
 * `src/config.ts` is the one loader that combines them with the environment.
 */
export const defaults = {
  /** Token and session lifetimes, in seconds. */
  ttl: {
    /** RFC 9700 §4.2.3: authorization codes are short-lived; 60 s is the most we allow. */
    authorizationCode: 60,
    accessToken: 10 * 60,
    idToken: 60 * 60,
    refreshToken: 14 * 24 * 60 * 60,
    clientCredentials: 10 * 60,
    interaction: 60 * 60,
    session: 14 * 24 * 60 * 60,
    grant: 14 * 24 * 60 * 60,
  },
  /** A retired signing key stays in the JWKS this long, so tokens it signed still verify. */
  retiredKeyGraceSeconds: 24 * 60 * 60,
  /** How often a running server looks for keys rotated by `gatehouse keys rotate`. */
  keyPollSeconds: 30,
  /** OWASP Password Storage Cheat Sheet: argon2id m=19 MiB, t=2, p=1. */
  argon2: { memoryCost: 19_456, timeCost: 2, parallelism: 1 },
  /** Embedded Postgres: the knex pool size (the one backend serves connections in turn). */
  embeddedMaxConnections: 4,
  /**
   * oidc-provider refuses outbound requests (back-channel logout, client JWKS, sector
   * identifiers) to loopback and private addresses, against SSRF. Tests that run a relying
   * party on 127.0.0.1 turn this on; a deployment whose apps live on a private network may too.
   */
  allowPrivateNetworkFetch: false,
  /** Redis keys of this process start with this prefix. */
  redisPrefix: 'gatehouse:',
  /**
   * Self-service e-mail (issue 3): confirmation and reset links, and the outbox that sends
   * them. SMTP_URL, MAIL_FROM, JOBS_BACKEND, WORKER and EMAIL_RESEND_CRON are environment
   * variables (src/config.ts), not here.
   */
  email: {
    /** A confirmation link works this long (the 24 h). */
    verifyTokenTtlSeconds: 24 * 60 * 60,
    /** A password-reset link works this long (the 1 h). */
    resetTokenTtlSeconds: 60 * 60,
    /** Delivery attempts before a message is marked dead (a 5xx answer makes it dead at once). */
    maxAttempts: 8,
    /** The wait after the first failed attempt; each further failure doubles it... */
    retryBaseSeconds: 60,
    /** ...up to this much. */
    retryMaxSeconds: 60 * 60,
    /**
     * How long a worker owns a message it is sending. A worker killed mid-send holds it this
     * long, then the resend job takes it over. Longer than one SMTP conversation can last
     * (the SMTP timeouts below), so a slow send is never taken over while still running.
     */
    sendLeaseSeconds: 5 * 60,
    /** nodemailer timeouts, in milliseconds: connect, server greeting, socket inactivity. */
    smtpTimeouts: { connectionMs: 15_000, greetingMs: 15_000, socketMs: 60_000 },
    /**
     * A queued message whose send job has not run after this long is sent by the resend job
     * (the job may never have been enqueued: the database or job store failed after commit).
     */
    queuedGraceSeconds: 60,
    /** The most messages one run of the resend job delivers; the next run takes the rest. */
    resendBatchSize: 100,
    /** At most one confirmation or reset mail per address in this many seconds (inbox flooding). */
    perAddressIntervalSeconds: 60,
    /** A new password must differ from this many most recent ones, the current one included (the original server's 5). */
    passwordHistory: 5,
  },
  /** Agenda (issue 3). */
  jobs: {
    /** How often a worker looks for due jobs, in ms; on Postgres, notifications wake it sooner. */
    processEveryMs: 5_000,
    /** Jobs one worker runs at once. */
    concurrency: 5,
    /**
     * Agenda's lock on a running job. It need not cover a whole send: the outbox's own lease
     * decides who sends (a job whose lock lapsed is at most tried again, and loses the claim).
     * Agenda checks it every half lifetime, with a timer that holds the process open that long.
     */
    lockLifetimeMs: 60_000,
    /** On shutdown, how long a worker waits for running jobs before leaving them to the lease. */
    drainMs: 10_000,
  },
  /**
   * First-party apps' cookies (issue 4; CONTRACT.md "First-party cookies"). The refresh grace
   * window is the SESSION_REFRESH_GRACE_SECONDS environment variable, not here.
   */
  firstParty: {
    /**
     * Lifetime of `gatehouse_at`, in seconds: minutes, because an RFC 9068 access token is
     * verified without asking Gatehouse and so cannot be revoked before it expires.
     */
    accessTokenTtlSeconds: 10 * 60,
    /** `gatehouse_rt` slides: each refresh extends it by this much (RFC 9700 §4.14.2). */
    refreshIdleSeconds: 14 * 24 * 60 * 60,
    /** However often it is refreshed, a sign-in ends this long after the password was given. */
    refreshAbsoluteSeconds: 30 * 24 * 60 * 60,
    /** How long a `/session/start` sign-in may take before its state cookie expires. */
    loginFlowSeconds: 30 * 60,
    /** Gatehouse's own first-party client (created on start): `/login` signs in to `/account` with it. */
    builtinClientId: 'gatehouse',
  },
  /**
   * Password rules (issue 5; src/accounts/passwords/password-policy.ts; NIST SP 800-63B-4 §3.1.1.2,
   * ASVS V6.2). Lengths count Unicode code points after NFKC; no composition rules.
   */
  passwordPolicy: {
    /** ASVS V6.2.1 asks for at least 8; 12 is the default. */
    minLength: 12,
    /** ASVS V6.2.9: at least 64 must be allowed. Longer ones are refused, never truncated (V6.2.8). */
    maxLength: 1024,
    /** 800-63B-4 §3.1.1.2: context-specific words, such as the name of the service. */
    blockedWords: ['gatehouse'] as string[],
  },
  /**
   * Brute-force protection of password logins (issue 5; src/security/login-throttle.ts; ASVS
   * V6.3.1, NIST SP 800-63B-4 §3.2.2). Failures are counted per account (the normalised login)
   * and per client IP (IPv6 by /64), each in a window that starts at its first failure. The
   * original server asked for a captcha after 3 failures in 5 minutes and locked for 15 minutes
   * after 5. A locked account answers exactly like a wrong password.
   */
  throttle: {
    account: {
      /** Failures count for this long from the first one. */
      windowSeconds: 5 * 60,
      /** After this many failures the next attempt needs a captcha. */
      captchaAfter: 3,
      /** This many failures lock the account... */
      lockAfter: 5,
      /** ...for this long; the count starts afresh when the lock ends. */
      lockSeconds: 15 * 60,
    },
    /** Looser than the account's: many people may share one address (offices, carrier NAT). */
    ip: {
      windowSeconds: 5 * 60,
      captchaAfter: 10,
      lockAfter: 100,
      lockSeconds: 15 * 60,
    },
    /** Progressive delay before the password check: baseMs after one failure of the account, doubling, at most maxMs. */
    delay: { baseMs: 500, maxMs: 8_000 },
  },
  /** The security event log (issue 5; src/security/events.ts; `npx gatehouse events`). */
  securityEvents: {
    /** Events older than this are deleted by the periodic sweep. */
    retentionDays: 90,
  },
} as const;

/** The secret used when `SECRETS` is unset. Production refuses to start with it. */
export const DEV_SECRET = 'gatehouse-development-secret-do-not-use-in-production';
