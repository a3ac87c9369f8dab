import { AppError } from '../../errors.ts';
import { translate } from '../../i18n/locale.ts';

/** A TOTP or recovery code that is wrong, already used, or from too long ago: one answer for all. */
export class InvalidCodeError extends AppError {
  constructor() {
    super('INVALID_CODE', 400, translate('mfa.invalid_code'), { code: translate('mfa.invalid_code') });
    this.name = 'InvalidCodeError';
  }
}

/**
 * The password was right but the account signs in with a second factor (or must enrol one):
 * `POST /session/login` issues no cookies for a password alone; the app sends the person
 * through the hosted sign-in (`GET /session/start`), which asks for it.
 */
export class SecondFactorRequiredError extends AppError {
  readonly next: 'verify' | 'enrol';
  constructor(next: 'verify' | 'enrol') {
    super(next === 'enrol' ? 'MFA_ENROLMENT_REQUIRED' : 'MFA_REQUIRED', 403, translate(next === 'enrol' ? 'mfa.enrolment_required' : 'mfa.required'));
    this.name = 'SecondFactorRequiredError';
    this.next = next;
  }
}
