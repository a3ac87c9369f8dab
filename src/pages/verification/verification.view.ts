import { translate } from '../../http/views.ts';

/** The verification flow's templates (views/). */
export const VERIFICATION_TEMPLATES = { resend: 'email-form', notice: 'notice', sent: 'sent' } as const;

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

/** A used (or expired) link of an address that is confirmed: nothing to do but sign in. */
export function alreadyConfirmed() {
  return { title: translate('verify.already_title'), body: translate('verify.already_body'), linkUrl: '/login', linkText: translate('login.submit') };
}

/** "1 minute", "2 minutes", "45 seconds": how long the per-address interval is. */
export function intervalText(seconds: number): string {
  return seconds % 60 === 0 ? translate('time.minutes', { n: seconds / 60 }) : translate('time.seconds', { n: seconds });
}

/**
 * A new link is on its way, if there is an account to send it to, unless one was sent within
 * the per-address interval (issue 12: then none is, and the page says so and when to ask
 * again). The same page whoever asked, for whatever address: it says nothing of the account.
 */
export function resent(intervalSeconds: number, { email, devMailbox = false }: { email?: string; devMailbox?: boolean } = {}) {
  const body = intervalSeconds <= 0 ? translate('verify.resent_body') : translate('verify.resent_body_interval', { wait: intervalText(intervalSeconds) });
  return {
    title: translate('verify.resent_title'),
    body,
    ...(email ? { email, sentLead: translate('sent.address') } : {}),
    devMailbox,
    retryUrl: '/verify-email/resend',
  };
}
