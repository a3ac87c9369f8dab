import QRCode from 'qrcode';
import { translate } from '../../http/views.ts';

/** The templates of second-factor pages (views/). */
export const MFA_TEMPLATES = { code: 'mfa-code', enrol: 'mfa-enrol', recoveryCodes: 'mfa-recovery-codes', confirm: 'mfa-confirm' } as const;

export interface FormState {
  error?: string;
  fields?: Record<string, string>;
}

/** "Enter the code from your app, or a recovery code": the step after the password. */
export function codeView({ uid, clientName, ...state }: { uid: string; clientName?: string } & FormState) {
  return { title: translate('mfa.code_title'), action: `/interaction/${uid}/mfa`, abortUrl: `/interaction/${uid}/abort`, clientName, fields: {}, ...state };
}

/**
 * Adding an authenticator app: the QR code (an SVG drawn here, no script, nothing inline the
 * CSP refuses), the `otpauth://` URI and its secret as text, for typing in, and the form that
 * confirms it with a first code.
 */
export async function enrolView({ uri, secret, action, cancelUrl, required = false, ...state }: { uri: string; secret: string; action: string; cancelUrl?: string; required?: boolean } & FormState) {
  const qrSvg = await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
  return { title: translate('mfa.enrol_title'), intro: translate(required ? 'mfa.enrol_required' : 'mfa.enrol_intro'), uri, secret, qrSvg, action, cancelUrl, fields: {}, ...state };
}

/** The ten recovery codes, shown this once, and the way on. */
export function recoveryCodesView(codes: string[], continueUrl: string) {
  return { title: translate('mfa.recovery_title'), codes, continueUrl };
}

/** A change to the factors that a fresh code confirms (remove the app, new recovery codes). */
export function confirmView(what: 'remove' | 'regenerate', state: FormState = {}) {
  const keys = what === 'remove'
    ? { title: 'mfa.remove_title', body: 'mfa.remove_body', submit: 'mfa.remove_submit', action: '/account/totp/remove' }
    : { title: 'mfa.regenerate_title', body: 'mfa.regenerate_body', submit: 'mfa.regenerate_submit', action: '/account/recovery-codes' };
  return { title: translate(keys.title), body: translate(keys.body), submit: translate(keys.submit), action: keys.action, danger: what === 'remove', fields: {}, ...state };
}
