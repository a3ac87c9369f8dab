import { translate } from '../../http/views.ts';
import { PASSKEY_SCRIPTS } from '../passkeys/passkeys.routes.ts';
import type { ClientCard } from '../interaction.ts';

/** The login page's template (views/login.hbs). */
export const LOGIN_TEMPLATE = 'login';

// Refusals after which the page offers to send the confirmation mail again (views/login.hbs).
const OFFER_RESEND = { EMAIL_NOT_VERIFIED: true };
// Refusals after which the page offers to reset the password, beside the message (issue 12).
const OFFER_RESET = { TOO_MANY_ATTEMPTS: true };

export interface LoginView {
  uid: string;
  /** The client signed in to (none for Gatehouse's own sign-in). */
  client?: ClientCard;
  /** What was typed (or the client's `login_hint`). */
  login?: unknown;
  error?: string;
  code?: string;
  /** Each refused field's problem (a form that did not fit its schema). */
  fields?: Record<string, string>;
  captcha?: unknown;
  /** Back from a confirmation link (src/pages/verification): the address is confirmed now. */
  verified?: boolean;
}

/** The login page of an OIDC interaction. */
export function loginView({ uid, verified = false, ...rest }: LoginView): Record<string, unknown> {
  return {
    title: translate('login.title'),
    action: `/interaction/${uid}/login`,
    abortUrl: `/interaction/${uid}/abort`,
    registerUrl: `/register?interaction=${encodeURIComponent(uid)}`,
    // "Send the confirmation again" after EMAIL_NOT_VERIFIED carries the sign-in along, so the
    // confirmation link can resume it (src/pages/verification).
    offerResend: OFFER_RESEND,
    offerReset: OFFER_RESET,
    interactionUid: uid,
    // Passkeys: a button and autofill, by script (views/assets/passkeys.js); the form works without.
    passkeyUrl: `/interaction/${uid}/passkey`,
    scripts: PASSKEY_SCRIPTS,
    ...(verified ? { notice: translate('verify.continue_notice') } : {}),
    ...rest,
  };
}
