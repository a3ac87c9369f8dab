import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { isDependencyDown } from '../errors.ts';
import { currentLocale, DEFAULT_LOCALE, isLocale, runInLocale } from '../i18n/locale.ts';
import { DeliveryError, type Mailer } from './mailer.ts';
import { createOutboxRepo, type OutboxMessage } from './outbox.repo.ts';
import { EMAIL_TEMPLATES, emailBrand, humanDuration, isEmailTemplate, renderEmail, type EmailModel, type EmailTemplate, type RenderedEmail } from './templates.ts';

/** What the outbox needs to log: pino's signature, so `app.log` and the worker's logger both fit. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface NewEmail {
  accountId: string | null;
  to: { address: string; name: string };
  template: EmailTemplate;
  /** The secret the link carries; sealed in the outbox until sent, then removed. */
  token?: { value: string; ttlSeconds: number };
}

export type DeliveryOutcome = 'sent' | 'failed' | 'dead' | 'skipped';

export interface OutboxDeps {
  knex: Knex;
  box: SecretBox;
  config: Pick<Config, 'issuer' | 'email'> & Partial<Pick<Config, 'brand'>>;
  mailer: Mailer;
  log: Log;
  /** Told the outcome of every delivery attempt (the metrics count them). */
  onDelivered?: (outcome: DeliveryOutcome) => void;
}

/**
 * The transactional outbox of e-mail: `record` writes a message in the caller's transaction
 * (with the account it is about), and `deliver` sends it later, from a job. Delivery is at most
 * once per claim and retried until it succeeds, a 5xx answer says it never will, or attempts
 * run out. The one duplicate left is a worker dying after the SMTP server accepted a message
 * and before the outbox recorded it; the stable Message-ID lets mail systems recognise it.
 */
export function createOutbox({ knex, box, config, mailer, log, onDelivered }: OutboxDeps) {
  const repo = createOutboxRepo(knex);
  const { email } = config;
  const host = new URL(config.issuer).hostname;
  // The brand of every message (BRAND_*), its logo as an absolute address: mail has no origin.
  const brand = emailBrand(config);

  function modelFor(m: OutboxMessage & { template: EmailTemplate }): EmailModel {
    const path = EMAIL_TEMPLATES[m.template].linkPath;
    const sealed = m.data.token;
    const link = typeof sealed === 'string' ? `${config.issuer}${path}?token=${encodeURIComponent(box.open(sealed))}` : `${config.issuer}${path}`;
    const ttl = m.data.ttlSeconds;
    return { name: typeof m.data.name === 'string' ? m.data.name : undefined, link, expiresIn: typeof ttl === 'number' ? humanDuration(ttl) : undefined };
  }

  /** Exponential backoff: base, 2×base, 4×base... capped. */
  function retryDelay(attempts: number): number {
    return Math.min(email.retryBaseSeconds * 2 ** Math.max(0, attempts - 1), email.retryMaxSeconds);
  }

  /**
   * The message went out: that must be recorded even across a database blip, or the resend job
   * sends it a second time once the lease runs out (an outage run found one). Retried with
   * backoff while the database is down, until the lease would run out anyway.
   */
  async function recordSent(leaseEnds: number, record: () => Promise<boolean>): Promise<boolean> {
    for (let waitMs = 250; ; waitMs = Math.min(waitMs * 2, 5_000)) {
      try {
        return await record();
      } catch (err) {
        if (!isDependencyDown(err as Error) || Date.now() + waitMs >= leaseEnds) throw err;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  async function deliver(id: string): Promise<DeliveryOutcome> {
    const outcome = await attempt(id);
    onDelivered?.(outcome);
    return outcome;
  }

  async function attempt(id: string): Promise<DeliveryOutcome> {
    const leaseEnds = Date.now() + email.sendLeaseSeconds * 1000;
    const m = await repo.claim(id, email.sendLeaseSeconds);
    if (!m) return 'skipped';
    const claimId = m.claimId!;

    let rendered: RenderedEmail;
    try {
      if (!isEmailTemplate(m.template)) throw new Error(`unknown template ${JSON.stringify(m.template)}`);
      // In the language of the page that caused the mail (recorded with it), not the worker's.
      const locale = isLocale(m.data.locale) ? m.data.locale : DEFAULT_LOCALE;
      rendered = runInLocale(locale, () => renderEmail(m.template as EmailTemplate, modelFor({ ...m, template: m.template as EmailTemplate }), brand), brand.name);
    } catch (err) {
      // A message that cannot be rendered (a token sealed under a secret no longer configured)
      // never will be: retrying only delays the dead letter.
      await repo.markDead(id, claimId, `cannot render: ${(err as Error).message}`);
      log.error({ outboxId: id, template: m.template, err: (err as Error).message }, 'e-mail cannot be rendered; marked dead');
      return 'dead';
    }

    try {
      await mailer.send({ to: { name: m.toName, address: m.toAddress }, ...rendered, messageId: `<${m.id}@${host}>` });
    } catch (err) {
      const failure = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, false, { cause: err });
      // Without a transport (production without SMTP_URL) nothing was tried: the message waits
      // for SMTP_URL instead of spending its attempts.
      const dead = failure.permanent || (mailer.kind !== 'none' && m.attempts >= email.maxAttempts);
      if (dead) await repo.markDead(id, claimId, failure.message);
      else await repo.markFailed(id, claimId, failure.message, retryDelay(m.attempts));
      log.warn({ outboxId: id, template: m.template, attempts: m.attempts, permanent: failure.permanent, err: failure.message }, dead ? 'e-mail dead' : 'e-mail failed; will retry');
      return dead ? 'dead' : 'failed';
    }

    const mailbox = mailer.kind === 'mailbox';
    const recorded = await recordSent(leaseEnds, () =>
      repo.markSent(
        id,
        claimId,
        { transport: mailer.kind, subject: rendered.subject, messageId: `<${m.id}@${host}>`, textBody: mailbox ? rendered.text : null, htmlBody: mailbox ? rendered.html : null },
        ['token'],
      ),
    );
    if (!recorded) log.warn({ outboxId: id }, 'e-mail sent after its lease ran out; another worker may send it again');
    log.info({ outboxId: id, template: m.template, transport: mailer.kind }, 'e-mail sent');
    return 'sent';
  }

  return {
    repo,

    /** Records a message in `trx`, the caller's transaction: it exists exactly when the caller's change does. */
    async record(e: NewEmail, trx: Knex): Promise<OutboxMessage> {
      // The language of the request that causes the mail: the worker renders it in that one.
      const data: Record<string, unknown> = { name: e.to.name, locale: currentLocale() };
      if (e.token) {
        data.token = box.seal(e.token.value);
        data.ttlSeconds = e.token.ttlSeconds;
      }
      return repo.insert({ accountId: e.accountId, toAddress: e.to.address, toName: e.to.name, template: e.template, data }, trx);
    },

    deliver,

    /** The resend job: delivers what failed and is due, what a dead worker held, what was never enqueued. */
    async deliverDue({ onEach }: { onEach?: () => Promise<void> } = {}): Promise<{ tried: number; sent: number }> {
      const ids = await repo.dueIds({ limit: email.resendBatchSize, queuedGraceSeconds: email.queuedGraceSeconds });
      let sent = 0;
      for (const id of ids) {
        if ((await deliver(id)) === 'sent') sent++;
        await onEach?.();
      }
      return { tried: ids.length, sent };
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
