import { ValidationError, ConflictError } from '../../errors.ts';
import { normalizeEmail } from '../../identifiers.ts';
import type { SelfService } from '../self-service/self-service.ts';
import { translate } from '../../i18n/locale.ts';

export interface Registration {
  name: string;
  email: string;
  password: string;
  username?: string;
  /** The OIDC interaction the person came from; confirming the address resumes it. */
  interactionUid?: string;
}

/**
 * Self-registration. A new address gets an unverified account and its confirmation message in
 * one transaction. An address that already has an account gets the same answer, after the
 * same password hashing, and its owner a notice instead of a second account: the form never
 * tells whether an address is registered. A taken username is said: usernames are public.
 * Returns the new account's id, or null when none was made (for the audit log, not the page).
 */
export async function register(s: SelfService, input: Registration): Promise<{ accountId: string | null }> {
  // Outside the transaction: holding it open during argon2 would stall every other writer.
  const row = await s.accounts.prepare({ name: input.name, email: input.email, password: input.password, username: input.username });
  const { emailNormalized, usernameNormalized } = row;
  const { repo } = s.accounts;

  const { accountId, messageIds } = await s.knex.transaction(async (trx) => {
    const owner = await repo.findByLogin(emailNormalized, trx);
    if (owner && normalizeEmail(owner.email) === emailNormalized) {
      // At most one notice per interval: registering the address again and again floods no inbox.
      if (owner.disabled || (await s.outbox.repo.recordedRecently(owner.id, ['account-exists'], s.config.email.perAddressIntervalSeconds, trx))) {
        return { accountId: null, messageIds: [] };
      }
      const notice = await s.outbox.record({ accountId: owner.id, to: { address: owner.email, name: owner.name }, template: 'account-exists' }, trx);
      return { accountId: null, messageIds: [notice.id] };
    }
    if (usernameNormalized && (await repo.findByLogin(usernameNormalized, trx))) {
      throw new ValidationError({ username: translate('register.username_taken') });
    }
    const account = await repo.insert(row, trx);
    // Only a registration of the same address or username a moment ago gets here.
    if (!account) throw new ConflictError('ACCOUNT_EXISTS', translate('register.just_created'));
    const messageId = await s.recordLink(trx, account, { purpose: 'verify', ttlSeconds: s.config.email.verifyTokenTtlSeconds, interactionUid: input.interactionUid });
    return { accountId: account.id, messageIds: [messageId] };
  });

  await s.sendAfterCommit(messageIds);
  return { accountId };
}
