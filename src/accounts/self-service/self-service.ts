import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Log, Outbox } from '../../email/outbox.service.ts';
import type { EmailTemplate } from '../../email/templates.ts';
import type { Account, Accounts } from '../accounts.service.ts';
import type { PasswordHasher } from '../passwords/hasher.ts';
import { createPasswords } from '../passwords/passwords.service.ts';
import { createRevocationRepo } from '../revocation/revocation.repo.ts';
import { createEmailTokensRepo, type TokenPurpose } from '../tokens/email-tokens.repo.ts';

/** The mail each kind of link goes out in. */
const LINK_TEMPLATES = { verify: 'verify-email', reset: 'reset-password' } as const satisfies Record<TokenPurpose, string>;

/** A link to mail: what its token is for, how long it lives, the OIDC interaction it resumes. */
export interface Link {
  purpose: TokenPurpose;
  ttlSeconds: number;
  interactionUid?: string;
  /** The mail it goes out in, when not the purpose's usual one (a reset link in a lock notice). */
  template?: EmailTemplate;
}

export interface SelfServiceDeps {
  knex: Knex;
  accounts: Accounts;
  hasher: PasswordHasher;
  outbox: Outbox;
  /** Enqueues the send job of an outbox message (src/jobs/email.jobs.ts). */
  enqueueEmail: (messageId: string) => Promise<void>;
  config: Pick<Config, 'email'>;
  log: Log;
}

/**
 * What the self-service flows (registration, verification, recovery, settings) share: each
 * flow's service receives this and nothing global.
 */
export function createSelfService(deps: SelfServiceDeps) {
  const { knex, accounts, hasher, log } = deps;
  const tokens = createEmailTokensRepo(knex);

  /**
   * The one way a link is mailed (a registration's confirmation, a resent one, a password
   * reset): a one-time token issued and its message recorded in the caller's transaction, so
   * both exist or neither does. Returns the message's id, for `sendAfterCommit`.
   */
  async function recordLink(trx: Knex, account: Pick<Account, 'id' | 'email' | 'name'>, { purpose, ttlSeconds, interactionUid, template }: Link): Promise<string> {
    const token = await tokens.issue(trx, { accountId: account.id, purpose, ttlSeconds, interactionUid });
    const message = await deps.outbox.record(
      { accountId: account.id, to: { address: account.email, name: account.name }, template: template ?? LINK_TEMPLATES[purpose], token: { value: token, ttlSeconds } },
      trx,
    );
    return message.id;
  }

  /**
   * Enqueues the send jobs of messages whose transaction has committed. A failure here loses
   * nothing: the message stays queued and the resend job sends it.
   */
  async function sendAfterCommit(messageIds: string[]): Promise<void> {
    for (const id of messageIds) {
      try {
        await deps.enqueueEmail(id);
      } catch (err) {
        log.warn({ outboxId: id, err: (err as Error).message }, 'could not enqueue e-mail; the resend job will send it');
      }
    }
  }

  return {
    ...deps,
    tokens,
    recordLink,
    sendAfterCommit,
    passwords: createPasswords({ knex, accounts, hasher, historySize: deps.config.email.passwordHistory }),
    revocation: createRevocationRepo(knex),

    /** `recordLink` in a transaction of its own, then sent. */
    async mailLink(account: Pick<Account, 'id' | 'email' | 'name'>, link: Link): Promise<void> {
      const messageId = await knex.transaction((trx) => recordLink(trx, account, link));
      await sendAfterCommit([messageId]);
    },
  };
}

export type SelfService = ReturnType<typeof createSelfService>;
