import { translate } from './i18n/locale.ts';

/**
 * Gatehouse's own errors: a stable SCREAMING_SNAKE `code`, an HTTP status, a message safe to
 * show a user, and for form input the message of each field. The error handler in app.ts
 * renders them as JSON for APIs and through views/error.hbs for pages.
 */
export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly fields?: Record<string, string>;
  constructor(code: string, statusCode: number, message: string, fields?: Record<string, string>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = statusCode;
    this.fields = fields;
  }
}

/** Bad input: each field's problem in `fields`. Nothing was changed. */
export class ValidationError extends AppError {
  constructor(fields: Record<string, string>, message?: string) {
    super('VALIDATION_FAILED', 400, message ?? translate('form.correct_fields'), fields);
    this.name = 'ValidationError';
  }
}

/** Wrong login or password, unknown or locked account: one answer for all (no enumeration). */
export class InvalidCredentialsError extends AppError {
  constructor() {
    super('INVALID_CREDENTIALS', 401, translate('error.invalid_credentials'));
    this.name = 'InvalidCredentialsError';
  }
}

/**
 * A login past the lock threshold (issue 12), said as such rather than as a wrong password. The
 * throttle counts unknown logins like accounts, so this answer tells nothing about whether an
 * account exists. 429 (RFC 6585 §4) with `Retry-After`, on the hosted login page and as
 * `TOO_MANY_ATTEMPTS` on POST /session/login alike.
 */
export class TooManyAttemptsError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
    super('TOO_MANY_ATTEMPTS', 429, translate('error.too_many_attempts', { minutes }));
    this.name = 'TooManyAttemptsError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class EmailNotVerifiedError extends AppError {
  constructor() {
    super('EMAIL_NOT_VERIFIED', 403, translate('error.email_not_verified'));
    this.name = 'EmailNotVerifiedError';
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(code, 409, message);
    this.name = 'ConflictError';
  }
}

export class NotFoundError extends AppError {
  constructor(message?: string) {
    super('NOT_FOUND', 404, message ?? translate('error.not_found_short'));
    this.name = 'NotFoundError';
  }
}

/** A dependency (Postgres, Redis, SMTP) did not answer: retry later; nothing was lost. */
export class UnavailableError extends AppError {
  constructor(what: string) {
    super('SERVICE_UNAVAILABLE', 503, `${what} is unavailable right now. Please try again in a moment.`);
    this.name = 'UnavailableError';
  }
}

/**
 * Postgres or Redis not answering: the request can be retried, nothing was half-done.
 * SQLSTATE 57P01/57P02/57P03 (shutting down, after a crash, starting up), 53300 (too many connections) and
 * 08xxx (connection failures) all mean "not now" (PostgreSQL, Appendix A).
 */
export function isDependencyDown(err: Error & { code?: string }): boolean {
  return (
    err.name === 'KnexTimeoutError' ||
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'ClusterAllFailedError' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '53300', '08006', '08001', '08004'].includes(String(err.code)) ||
    // pg's "Client has encountered a connection error and is not queryable": a transaction whose
    // connection died under it, rolling back (an outage run found it as a 500).
    /enableOfflineQueue|Connection is closed|Stream isn't writeable|Connection terminated|and is not queryable/.test(err.message) ||
    // A Redis Cluster that lost a master, or a failover in progress.
    /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN)\b|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/.test(err.message)
  );
}
