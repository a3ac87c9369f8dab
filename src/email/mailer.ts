import nodemailer from 'nodemailer';
import type { Config } from '../config.ts';

export interface OutgoingEmail {
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
  /** RFC 5322 Message-ID, stable per outbox message so a re-delivery can be recognised. */
  messageId: string;
}

/** A failed delivery. `permanent` (an SMTP 5xx answer, a malformed message) is never retried. */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DeliveryError';
    this.permanent = permanent;
  }
}

/**
 * Where messages go: `smtp` (SMTP_URL), `mailbox` (no SMTP_URL, dev features on: the outbox row
 * itself is the delivery, shown at /dev/mailbox), or `none` (no SMTP_URL in production: every
 * attempt fails as retryable, so messages wait in the outbox until SMTP_URL is set).
 */
export interface Mailer {
  readonly kind: 'smtp' | 'mailbox' | 'none';
  send(mail: OutgoingEmail): Promise<void>;
  close(): void;
}

// A header field is one line: CR or LF in a name must never start a new header (Bcc: ...).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]+/g;
// eslint-disable-next-line no-control-regex
const HAS_CONTROL = /[\u0000-\u001f\u007f]/;

function classify(err: unknown): DeliveryError {
  const e = err as { responseCode?: number; code?: string; message?: string };
  const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
  const what = [e.code, e.responseCode].filter(Boolean).join(' ');
  const message = `${what ? `${what}: ` : ''}${String(e.message ?? err)}`.replace(CONTROL, ' ').slice(0, 500);
  return new DeliveryError(message, permanent, { cause: err });
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom' | 'devFeatures' | 'email'>): Mailer {
  if (!config.smtpUrl) {
    const kind = config.devFeatures ? 'mailbox' : 'none';
    return {
      kind,
      async send() {
        if (kind === 'none') throw new DeliveryError('SMTP_URL is not set', false);
      },
      close() {},
    };
  }

  const { connectionMs, greetingMs, socketMs } = config.email.smtpTimeouts;
  // One connection per message (no pool): a worker holds nothing open between messages.
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    connectionTimeout: connectionMs,
    greetingTimeout: greetingMs,
    socketTimeout: socketMs,
  } as Parameters<typeof nodemailer.createTransport>[0]);

  return {
    kind: 'smtp',
    async send(mail) {
      const address = mail.to.address.trim();
      if (!address || HAS_CONTROL.test(address) || /[\s<>,;"]/.test(address)) {
        throw new DeliveryError('invalid recipient address', true);
      }
      try {
        await transport.sendMail({
          from: config.mailFrom,
          to: { name: mail.to.name.replace(CONTROL, ' ').trim(), address },
          subject: mail.subject.replace(CONTROL, ' '),
          text: mail.text,
          html: mail.html,
          messageId: mail.messageId,
        });
      } catch (err) {
        throw classify(err);
      }
    },
    close: () => transport.close(),
  };
}
