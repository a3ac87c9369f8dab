import { AppError } from '../errors.ts';
import { translate } from '../http/views.ts';

/**
 * The stable error codes of `/session` (JSON for the API, the session-error page for
 * `/session/start` and its callback). Messages come from views/locales.
 */

/** The client is unknown or not first-party: only an admin makes a client first-party. */
export class NotFirstPartyError extends AppError {
  constructor() {
    super('CLIENT_NOT_FIRST_PARTY', 403, translate('session.error.not_first_party'));
    this.name = 'NotFirstPartyError';
  }
}

/** A first-party client `/session/start` cannot sign in for: no code flow, or a client authentication it cannot do. */
export class UnsupportedClientError extends AppError {
  constructor() {
    super('CLIENT_NOT_SUPPORTED', 400, translate('session.error.client_not_supported'));
    this.name = 'UnsupportedClientError';
  }
}

/** `return_to` is not exactly one of the client's registered redirect URIs. */
export class ReturnToError extends AppError {
  constructor() {
    super('INVALID_RETURN_TO', 400, translate('session.error.return_to'));
    this.name = 'ReturnToError';
  }
}

/** CSRF defence: a state-changing request from an origin that is not ours or a first-party app's. */
export class OriginNotAllowedError extends AppError {
  constructor() {
    super('ORIGIN_NOT_ALLOWED', 403, translate('session.error.origin'));
    this.name = 'OriginNotAllowedError';
  }
}

/** `GET /session` without a valid access cookie. */
export class UnauthenticatedError extends AppError {
  constructor() {
    super('UNAUTHENTICATED', 401, translate('session.error.unauthenticated'));
    this.name = 'UnauthenticatedError';
  }
}

export type RefreshErrorCode = 'NO_REFRESH_TOKEN' | 'INVALID_REFRESH_TOKEN' | 'SESSION_EXPIRED' | 'SESSION_REVOKED' | 'REFRESH_TOKEN_REUSED';

/** `POST /session/refresh` cannot give new cookies: the app must sign in again. */
export class RefreshError extends AppError {
  declare readonly code: RefreshErrorCode;
  constructor(code: RefreshErrorCode) {
    super(code, 401, translate(`session.error.${code.toLowerCase()}`));
    this.name = 'RefreshError';
  }
}

/** The hosted sign-in of `/session/start` did not complete; `returnTo` when known, to go back. */
export class LoginFlowError extends AppError {
  readonly returnTo?: string;
  constructor(code: 'LOGIN_FLOW_EXPIRED' | 'LOGIN_FAILED', returnTo?: string) {
    super(code, 400, translate(`session.error.${code.toLowerCase()}`));
    this.name = 'LoginFlowError';
    this.returnTo = returnTo;
  }
}
