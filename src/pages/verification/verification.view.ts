import { translate } from '../../http/views.ts';

/** The verification flow's templates (views/). */
export const VERIFICATION_TEMPLATES = { resend: 'email-form', notice: 'notice' } as const;

/** `/verify-email/resend`: the form asking for the address (also shown when a link does not work). */
export function resendForm(data: Record<string, unknown> = {}) {
  return {
    title: translate('verify.resend_title'),
    intro: translate('verify.resend_intro'),
    action: '/verify-email/resend',
    submit: translate('verify.resend_submit'),
    ...data,
  };
}

/** A confirmation link that does not work (any more): why, and the form for a new one. */
export function linkProblem(message: string) {
  return resendForm({ title: translate('verify.problem_title'), error: message, intro: translate('verify.problem_body') });
}

/** The address is confirmed (opened outside the sign-in it came from). */
export function verified() {
  return { title: translate('verify.done_title'), body: translate('verify.done_body'), linkUrl: '/login', linkText: translate('login.submit') };
}

/** A new link is on its way, if there is an account to send it to. */
export function resent() {
  return { title: translate('verify.resent_title'), body: translate('verify.resent_body') };
}
