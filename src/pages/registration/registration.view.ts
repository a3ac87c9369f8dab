import { translate } from '../../http/views.ts';
import type { ClientCard } from '../interaction.ts';

/** The registration flow's templates (views/). */
export const REGISTRATION_TEMPLATES = { form: 'register', sent: 'sent' } as const;

/** Back to the sign-in the person came from, or Gatehouse's own. */
const signInUrl = (interaction: string | undefined) => (interaction ? `/interaction/${interaction}` : '/login');

export interface RegistrationFormView {
  interaction?: string;
  client?: ClientCard;
  captcha?: unknown;
  error?: string;
  values?: Record<string, string>;
  fields?: Record<string, string>;
}

/** `/register`: the form, empty or with what was typed and each field's problem. */
export function registrationForm({ interaction, client, captcha, error, values = {}, fields = {} }: RegistrationFormView) {
  return { title: translate('register.title'), error, interaction, client, signInUrl: signInUrl(interaction), captcha, values, fields };
}

/**
 * `/register/sent`: check your e-mail (the same whether or not an account was made), naming the
 * address this browser typed, with a resend and, in development, the dev mailbox.
 */
export function registrationSent(interaction: string | undefined, { email, devMailbox = false }: { email?: string; devMailbox?: boolean } = {}) {
  return {
    title: translate('register.sent_title'),
    ...(email ? { email, sentLead: translate('sent.to'), body: translate('register.sent_body_named'), resend: true } : { body: translate('register.sent_body') }),
    interaction,
    devMailbox,
    retryUrl: `/register${interaction ? `?interaction=${interaction}` : ''}`,
    linkUrl: signInUrl(interaction),
    linkText: translate('register.have_account'),
  };
}
