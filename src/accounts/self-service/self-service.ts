import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Log, Outbox } from '../../email/outbox.service.ts';
import type { Accounts } from '../accounts.service.ts';
import type { PasswordHasher } from '../passwords/hasher.ts';
import { createPasswords } from '../passwords/passwords.service.ts';
import { createRevocationRepo } from '../revocation/revocation.repo.ts';
import { createEmailTokensRepo } from '../tokens/email-tokens.repo.ts';

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
  return {
    ...deps,
    tokens: createEmailTokensRepo(knex),
    passwords: createPasswords({ knex, accounts, hasher, historySize: deps.config.email.passwordHistory }),
    revocation: createRevocationRepo(knex),

    /**
     * Enqueues the send jobs of messages whose transaction has committed. A failure here loses
     * nothing: the message stays queued and the resend job sends it.
     */
    async sendAfterCommit(messageIds: string[]): Promise<void> {
      for (const id of messageIds) {
        try {
          await deps.enqueueEmail(id);
        } catch (err) {
          log.warn({ outboxId: id, err: (err as Error).message }, 'could not enqueue e-mail; the resend job will send it');
        }
      }
    },
  };
}

export type SelfService = ReturnType<typeof createSelfService>;
