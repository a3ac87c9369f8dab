import { ValidationError } from '../../errors.ts';
import { normalizeEmail } from '../../identifiers.ts';
import type { SelfService } from '../self-service/self-service.ts';
import type { EmailToken } from '../tokens/email-tokens.repo.ts';
import { LinkError } from '../tokens/link.errors.ts';
import { markEmailVerified } from '../verification/verification.repo.ts';

/**
 * "Forgot password": mails a reset link to the account with this address (or username). An
 * unknown or disabled account gets nothing, and the caller answers the same either way. We
 * never mail a password, only a link that lets its owner choose one. Returns the account asked
 * for (for the audit log), whether or not a new mail went out.
 */
export async function requestPasswordReset(s: SelfService, { login }: { login: string }): Promise<{ accountId: string } | undefined> {
  if (!login || login.length > 320) return undefined;
  const account = await s.accounts.repo.findByLogin(normalizeEmail(login));
  if (!account || account.disabled) return undefined;
  if (await s.outbox.repo.recordedRecently(account.id, ['reset-password'], s.config.email.perAddressIntervalSeconds)) return { accountId: account.id };
  await s.mailLink(account, { purpose: 'reset', ttlSeconds: s.config.email.resetTokenTtlSeconds });
  return { accountId: account.id };
}

/** The live reset token behind a link, without spending it (the page shows a form first). */
export async function checkResetLink(s: SelfService, token: unknown): Promise<EmailToken> {
  const found = await s.tokens.peek(token, 'reset');
  if (typeof found === 'string') throw new LinkError(found);
  return found;
}

/**
 * Sets a new password through a reset link: spends the link (and every other reset link of the
 * account), ends every session, grant and token issued before now, and counts the address as
 * confirmed, since the link reached it.
 */
export async function resetPassword(s: SelfService, { token, newPassword }: { token: unknown; newPassword: unknown }): Promise<{ accountId: string }> {
  const link = await checkResetLink(s, token);
  const account = await s.accounts.repo.findById(link.accountId);
  if (!account || account.disabled) throw new LinkError('invalid');
  const problem = await s.passwords.problemWith(account, newPassword);
  if (problem) throw new ValidationError({ new_password: problem });
  const hash = await s.passwords.hash(newPassword as string);

  await s.knex.transaction(async (trx) => {
    // Spent now, not at peek: of two submissions of one link, one wins and the other is refused.
    const used = await s.tokens.consume(token, 'reset', trx);
    if (typeof used === 'string') throw new LinkError(used);
    await s.passwords.replace(trx, account, hash);
    await s.tokens.spendAll(trx, account.id, 'reset');
    await s.revocation.revokeSessions(account.id, trx);
    await markEmailVerified(trx, account.id);
  });
  return { accountId: account.id };
}
