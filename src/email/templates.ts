import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import { brandTheme, showableImage, type BrandTheme } from '../http/brand.ts';
import { createHandlebars, translate, VIEWS_DIR } from '../http/views.ts';

/**
 * The e-mails Gatehouse sends, from `views/emails/<name>.{html,text}.hbs` inside the layout of
 * the same kind. Each has one link: `linkPath` carries the mailed token; the others point to a
 * fixed page. Links are always built from ISSUER (see outbox.service.ts), never from a request.
 */
export const EMAIL_TEMPLATES = {
  'verify-email': { subject: 'email.verify.subject', linkPath: '/verify-email' },
  'reset-password': { subject: 'email.reset.subject', linkPath: '/reset-password' },
  'account-exists': { subject: 'email.exists.subject', linkPath: '/forgot-password' },
  // Sign-in was locked after too many wrong passwords (issue 12): a reset link, once per lock.
  'account-locked': { subject: 'email.locked.subject', linkPath: '/reset-password' },
  // An admin removed the account's second factors (issue 13): a notice, linking to /account.
  'factors-removed': { subject: 'email.factors_removed.subject', linkPath: '/account' },
  // The right password, then too many wrong codes (issue 13): the password is known; a reset link.
  'second-factor-locked': { subject: 'email.codes_locked.subject', linkPath: '/reset-password' },
  // A second factor (authenticator app, passkey) was added: a notice, linking to /account.
  'factor-added': { subject: 'email.factor_added.subject', linkPath: '/account' },
} as const;

export type EmailTemplate = keyof typeof EMAIL_TEMPLATES;

export function isEmailTemplate(name: string): name is EmailTemplate {
  return Object.hasOwn(EMAIL_TEMPLATES, name);
}

export interface EmailModel {
  name?: string;
  link: string;
  /** "24 hours", for a link that expires. */
  expiresIn?: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

type Compiled = (context: Record<string, unknown>) => string;

const hb = createHandlebars();
const cache = new Map<string, Compiled>();

function compiled(file: string, kind: 'html' | 'text'): Compiled {
  let template = cache.get(file);
  if (!template) {
    // Plain text is never HTML-escaped: `&` in a name or a URL must stay `&`.
    template = hb.compile(readFileSync(`${VIEWS_DIR}/emails/${file}`, 'utf8'), { noEscape: kind === 'text' });
    cache.set(file, template);
  }
  return template;
}

/** "1 hour", "24 hours", "30 minutes": a link lifetime for people. */
export function humanDuration(seconds: number): string {
  return seconds % 3600 === 0 ? translate('time.hours', { n: seconds / 3600 }) : translate('time.minutes', { n: Math.max(1, Math.round(seconds / 60)) });
}

const DEFAULT_BRAND = { name: 'Gatehouse', color: '#2450c9' };

/** The brand as e-mails show it: a logo path made absolute against the issuer, only an https or loopback one. */
export function emailBrand(config: { issuer: string; brand?: Config['brand'] }): BrandTheme {
  const theme = brandTheme(config.brand ?? DEFAULT_BRAND);
  const logo = theme.logoUrl?.startsWith('/') ? `${config.issuer}${theme.logoUrl}` : theme.logoUrl;
  const logoUrl = showableImage(logo);
  return { ...theme, ...(logoUrl ? { logoUrl } : { logoUrl: undefined }) };
}

export function renderEmail(name: EmailTemplate, model: EmailModel, brand: BrandTheme = brandTheme(DEFAULT_BRAND)): RenderedEmail {
  const subject = translate(EMAIL_TEMPLATES[name].subject);
  const context = { ...model, subject, brand };
  const text = compiled('layout.text.hbs', 'text')({ ...context, body: compiled(`${name}.text.hbs`, 'text')(context).trim() });
  const html = compiled('layout.html.hbs', 'html')({ ...context, body: compiled(`${name}.html.hbs`, 'html')(context) });
  return { subject, text: `${text.trim()}\n`, html };
}
