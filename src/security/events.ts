import type { Knex } from 'knex';
import { isUuid } from '../db/uuid.ts';
import { createSecurityEventsRepo, type SecurityEvent } from './events.repo.ts';

export type { SecurityEvent } from './events.repo.ts';

/**
 * The security event log (ASVS 5 V16.2, V16.3: log authentication events, lockouts, and
 * security-relevant changes, with who, from where and when, and never secrets): each event is
 * one structured log line and one row in Postgres, kept for `securityEvents.retentionDays` and
 * read with `npx gatehouse events`.
 */

// Event types: stable strings, as `npx gatehouse events --type` takes them.
export const LOGIN_SUCCEEDED = 'login.succeeded';
export const LOGIN_FAILED = 'login.failed';
export const ACCOUNT_LOCKED = 'account.locked';
export const IP_LOCKED = 'ip.locked';
export const CAPTCHA_FAILED = 'captcha.failed';
export const REGISTERED = 'account.registered';
export const EMAIL_VERIFIED = 'email.verified';
export const PASSWORD_RESET_REQUESTED = 'password.reset_requested';
export const PASSWORD_RESET = 'password.reset';
export const PASSWORD_CHANGED = 'password.changed';
export const ACCOUNT_DISABLED = 'account.disabled';
export const REFRESH_TOKEN_REUSE = 'token.refresh_reuse';
export const SESSIONS_REVOKED = 'sessions.revoked';
/** `user import` ran (issue 14): counts only. */
export const USERS_IMPORTED = 'users.imported';
/** A stored password hash was replaced by argon2id at sign-in; details name the old scheme only. */
export const PASSWORD_UPGRADED = 'password.upgraded';

/** Admin API changes to clients (issue 11): who (`by_client` or the account), which client, which fields; never a secret. */
export const ADMIN_CLIENT_CREATED = 'admin.client_created';
export const ADMIN_CLIENT_UPDATED = 'admin.client_updated';
export const ADMIN_CLIENT_DELETED = 'admin.client_deleted';
export const ADMIN_CLIENT_SECRET_ROTATED = 'admin.client_secret_rotated';
/** Second factors (issue 13): added, removed, recovery codes renewed or one spent; never a secret or a code. */
export const MFA_ENROLLED = 'mfa.enrolled';
export const MFA_REMOVED = 'mfa.removed';
export const MFA_RECOVERY_CODES_REGENERATED = 'mfa.recovery_codes_regenerated';
export const MFA_RECOVERY_CODE_USED = 'mfa.recovery_code_used';
/** An admin removed a user's second factors (recovery of access): who, and whose. */
export const ADMIN_USER_FACTORS_REMOVED = 'admin.user_factors_removed';
/** Admin changes to accounts and the outbox (issue 11), from the API, the CLI or the console. */
export const ADMIN_USER_CREATED = 'admin.user_created';
export const ADMIN_USER_UPDATED = 'admin.user_updated';
export const ADMIN_USER_SESSIONS_REVOKED = 'admin.user_sessions_revoked';
export const ADMIN_USER_VERIFICATION_SENT = 'admin.user_verification_sent';
export const ADMIN_OUTBOX_RETRIED = 'admin.outbox_retried';

export const SECURITY_EVENT_TYPES = [
  LOGIN_SUCCEEDED,
  LOGIN_FAILED,
  ACCOUNT_LOCKED,
  IP_LOCKED,
  CAPTCHA_FAILED,
  REGISTERED,
  EMAIL_VERIFIED,
  PASSWORD_RESET_REQUESTED,
  PASSWORD_RESET,
  PASSWORD_CHANGED,
  ACCOUNT_DISABLED,
  REFRESH_TOKEN_REUSE,
  SESSIONS_REVOKED,
  USERS_IMPORTED,
  PASSWORD_UPGRADED,
  ADMIN_CLIENT_CREATED,
  ADMIN_CLIENT_UPDATED,
  ADMIN_CLIENT_DELETED,
  ADMIN_CLIENT_SECRET_ROTATED,
  MFA_ENROLLED,
  MFA_REMOVED,
  MFA_RECOVERY_CODES_REGENERATED,
  MFA_RECOVERY_CODE_USED,
  ADMIN_USER_FACTORS_REMOVED,
  ADMIN_USER_CREATED,
  ADMIN_USER_UPDATED,
  ADMIN_USER_SESSIONS_REVOKED,
  ADMIN_USER_VERIFICATION_SENT,
  ADMIN_OUTBOX_RETRIED,
] as const;

export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export function isSecurityEventType(value: string): value is SecurityEventType {
  return (SECURITY_EVENT_TYPES as readonly string[]).includes(value);
}

/** Who and where: taken from the request by the route. */
export interface SecurityEventContext {
  /** The account concerned, when one is known (a UUID; anything else is stored as none). */
  accountId?: string | null;
  /** The client IP as Fastify resolved it (TRUST_PROXY decides whether X-Forwarded-For counts). */
  ip?: string;
  userAgent?: string;
  /**
   * Facts that help an investigation: a reason, a client id, a count. Sanitised: only short
   * primitive values under plain keys survive, and no key that names a secret (password,
   * token, cookie, code, secret, key...). Never put a secret here on purpose anyway.
   */
  details?: Record<string, unknown>;
  /**
   * An admin change (issue 11): each changed field with its value before and after, stored as
   * `details.changes`. The same rules as `details` apply to each field and value: a field that
   * names a secret is left out (a secret is never a value to record).
   */
  changes?: Record<string, { before: unknown; after: unknown }>;
}

/** What the log needs: pino's signature, so `app.log` and the worker's logger both fit. */
export interface SecurityLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ListEventsOptions {
  accountId?: string;
  type?: string;
  since?: Date;
  /** At most this many (default 100, at most 1,000). */
  limit?: number;
  /** The page after this event (newest first): pass the last event of the previous page. */
  after?: Pick<SecurityEvent, 'id' | 'createdAt'> & { position?: string };
}

const KEY_RE = /^[a-zA-Z][a-zA-Z0-9_]{0,39}$/;
// A key is refused when any of its words (camelCase or snake_case) names a secret or something
// that carries one: `newPassword`, `refresh_token`, `authorizationCode`, `apiKey`, `setCookie`.
const SECRET_WORDS = new Set([
  'password', 'passwd', 'pwd', 'passphrase', 'pass', 'secret', 'secrets', 'token', 'tokens', 'cookie', 'cookies',
  'authorization', 'bearer', 'captcha', 'otp', 'totp', 'pin', 'jwt', 'hash', 'credential', 'credentials', 'key',
  'keys', 'verifier', 'assertion', 'code', 'session', 'signature', 'private', 'nonce',
]);
// A value that looks like a JWT is a token whatever its key says.
const JWT_RE = /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/;
// Control characters (CR/LF forge log lines in text logs; NUL breaks tools).
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g;
const MAX_KEYS = 20;
const MAX_STRING = 200;
const MAX_ARRAY = 20;
const MAX_USER_AGENT = 512;
const MAX_IP = 64;

// Client metadata fields whose names hold a secret word but whose values are none.
const NOT_SECRET_KEYS = new Set(['token_endpoint_auth_method']);

function keyNamesSecret(key: string): boolean {
  if (NOT_SECRET_KEYS.has(key)) return false;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split('_');
  return words.some((w) => SECRET_WORDS.has(w));
}

function clean(text: string, max: number): string {
  const flat = text.replace(CONTROL_RE, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function sanitizeValue(value: unknown): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') return JWT_RE.test(value) ? undefined : clean(value, MAX_STRING);
  return undefined;
}

/**
 * The details that may be stored and logged: plain keys that name no secret, with strings
 * (cut at 200 characters), numbers, booleans, null, or short arrays of those. Nested objects,
 * functions and anything else are dropped, so nothing reaches the log by accident.
 */
export function sanitizeDetails(details: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!details || typeof details !== 'object' || Array.isArray(details)) return out;
  let kept = 0;
  for (const [key, value] of Object.entries(details)) {
    if (kept >= MAX_KEYS) break;
    if (!KEY_RE.test(key) || keyNamesSecret(key)) continue;
    const safe = Array.isArray(value)
      ? value.slice(0, MAX_ARRAY).map(sanitizeValue).filter((v) => v !== undefined)
      : sanitizeValue(value);
    if (safe === undefined) continue;
    out[key] = safe;
    kept++;
  }
  return out;
}

function sanitizeChangeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.slice(0, MAX_ARRAY).map(sanitizeValue).filter((v) => v !== undefined);
  return value === undefined ? null : sanitizeValue(value);
}

/** `changes` as stored: `{ field: { before, after } }`, fields and values under `details`' rules. */
export function sanitizeChanges(changes: unknown): Record<string, { before: unknown; after: unknown }> {
  const out: Record<string, { before: unknown; after: unknown }> = {};
  if (!changes || typeof changes !== 'object' || Array.isArray(changes)) return out;
  for (const [key, change] of Object.entries(changes).slice(0, MAX_KEYS)) {
    if (!KEY_RE.test(key) || keyNamesSecret(key) || !change || typeof change !== 'object') continue;
    const { before, after } = change as { before?: unknown; after?: unknown };
    out[key] = { before: sanitizeChangeValue(before) ?? null, after: sanitizeChangeValue(after) ?? null };
  }
  return out;
}

/** The IP and user agent of a request (Fastify's or any object of that shape). */
export function requestContext(request: { ip: string; headers: Record<string, string | string[] | undefined> }): { ip: string; userAgent?: string } {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}

export interface SecurityEventsDeps {
  knex: Knex;
  log: SecurityLog;
  /** The clock of the retention sweep (tests move it). */
  now?: () => number;
  /** Told of every event as it is recorded (the metrics count sign-ins and registrations from it). */
  observe?: (type: SecurityEventType, details: Record<string, unknown>) => void;
}

/**
 * Creates the security event log.
 *
 * `record` never throws: the log line is written first, and a database that fails only adds
 * an error line, so a sign-in is not refused because its audit row could not be written. Await
 * it (it resolves once the row is stored or the failure logged).
 */
export function createSecurityEvents({ knex, log, now = Date.now, observe }: SecurityEventsDeps) {
  const repo = createSecurityEventsRepo(knex);
  return {
    /** Logs and stores one event. */
    async record(type: SecurityEventType, context: SecurityEventContext = {}): Promise<void> {
      const accountId = typeof context.accountId === 'string' && isUuid(context.accountId) ? context.accountId.toLowerCase() : null;
      const ip = typeof context.ip === 'string' && context.ip ? clean(context.ip, MAX_IP) : null;
      const userAgent = typeof context.userAgent === 'string' && context.userAgent ? clean(context.userAgent, MAX_USER_AGENT) : null;
      const details: Record<string, unknown> = sanitizeDetails(context.details);
      if (context.changes) details.changes = sanitizeChanges(context.changes);
      log.info({ event: type, accountId, ip, details }, 'security event');
      observe?.(type, details);
      try {
        await repo.insert({ type, accountId, ip, userAgent, details });
      } catch (err) {
        log.error({ err, event: type }, 'security event not stored');
      }
    },

    /** Events newest first, filtered by account, type and time; one page of `limit`. */
    async list({ accountId, type, since, limit = 100, after }: ListEventsOptions = {}): Promise<SecurityEvent[]> {
      if (accountId !== undefined && !isUuid(accountId)) return [];
      return repo.list({ accountId, type, since, before: after, limit: Math.min(Math.max(1, Math.floor(limit)), 1000) });
    },

    /**
     * Deletes events older than `days` days (`securityEvents.retentionDays`); returns how many.
     * Run it periodically, as the expired-payload sweep is.
     */
    async purgeOlderThan(days: number): Promise<number> {
      if (!(days > 0)) throw new Error('purgeOlderThan needs a positive number of days');
      return repo.deleteBefore(new Date(now() - days * 24 * 60 * 60 * 1000));
    },
  };
}

export type SecurityEvents = ReturnType<typeof createSecurityEvents>;
