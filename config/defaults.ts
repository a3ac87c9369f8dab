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
  /** Redis keys of this process start with this prefix. */
  redisPrefix: 'gatehouse:',
} as const;

/** The secret used when `SECRETS` is unset. Production refuses to start with it. */
export const DEV_SECRET = 'gatehouse-development-secret-do-not-use-in-production';
