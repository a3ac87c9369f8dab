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
  /** Embedded Postgres: connections the in-process socket server multiplexes. */
  embeddedMaxConnections: 8,
  /**
   * oidc-provider refuses outbound requests (back-channel logout, client JWKS, sector
   * identifiers) to loopback and private addresses, against SSRF. Tests that run a relying
   * party on 127.0.0.1 turn this on; a deployment whose apps live on a private network may too.
   */
  allowPrivateNetworkFetch: false,
  /** Redis keys of this process start with this prefix. */
  redisPrefix: 'gatehouse:',
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
} as const;

/** The secret used when `SECRETS` is unset. Production refuses to start with it. */
export const DEV_SECRET = 'gatehouse-development-secret-do-not-use-in-production';
