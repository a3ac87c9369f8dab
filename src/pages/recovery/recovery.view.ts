import { translate } from '../../http/views.ts';

/** The recovery flow's templates (views/). */
export const RECOVERY_TEMPLATES = { request: 'email-form', reset: 'reset-password', notice: 'notice', sent: 'sent' } as const;

/** `/forgot-password`: the address to send a reset link to. */
export function forgotForm({ captcha, email, error, fields }: { captcha?: unknown; email?: string; error?: string; fields?: Record<string, string> } = {}) {
  return {
    title: translate('forgot.title'),
    intro: translate('forgot.intro'),
    action: '/forgot-password',
    submit: translate('forgot.submit'),
    captcha,
    ...(email !== undefined ? { email } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(fields !== undefined ? { fields } : {}),
  };
}

/** A reset link is on its way, if there is an account to send it to. */
export function forgotSent({ email, devMailbox = false }: { email?: string; devMailbox?: boolean } = {}) {
  return {
    title: translate('forgot.sent_title'),
    body: translate('forgot.sent_body'),
    ...(email ? { email, sentLead: translate('sent.address') } : {}),
    devMailbox,
    retryUrl: '/forgot-password',
  };
}

/** `/reset-password?token=`: the new password, with its problem when refused. */
export function resetForm({ token, error, fields = {} }: { token: unknown; error?: string; fields?: Record<string, string> }) {
  return { title: translate('reset.title'), token, ...(error !== undefined ? { error } : {}), fields };
}

/** A reset link that does not work (any more): why, and where to ask for a new one. */
export function resetLinkProblem(message: string) {
  return { title: translate('reset.problem_title'), error: message, linkUrl: '/forgot-password', linkText: translate('reset.problem_link') };
}

/** The password is set; every session ended, so: sign in. */
export function resetDone() {
  return { title: translate('reset.done_title'), body: translate('reset.done_body'), linkUrl: '/login', linkText: translate('login.submit') };
}
