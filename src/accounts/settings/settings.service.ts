import { NotFoundError, ValidationError } from '../../errors.ts';
import { validateNewAccount, type Account } from '../accounts.service.ts';
import type { SelfService } from '../self-service/self-service.ts';
import { translate } from '../../i18n/locale.ts';

async function accountOf(s: SelfService, accountId: string): Promise<Account> {
  const account = await s.accounts.repo.findById(accountId);
  if (!account || account.disabled) throw new NotFoundError(translate('account.not_found'));
  return account;
}

export async function updateName(s: SelfService, accountId: string, name: unknown): Promise<void> {
  // The registration rule for names, alone (the other fields are not being changed).
  const problem = validateNewAccount({ email: '', password: '', name: name as string }).name;
  if (problem || typeof name !== 'string') throw new ValidationError({ name: problem ?? translate('account.name_required') });
  await accountOf(s, accountId);
  await s.accounts.repo.update(accountId, { name: name.trim() });
}

/**
 * Changes the password: the current one is required, the new one must pass the policy and
 * differ from the recent ones. Every session, grant and token issued before the change ends,
 * the caller's own session included.
 */
export async function changePassword(s: SelfService, accountId: string, { password, newPassword }: { password: unknown; newPassword: unknown }): Promise<void> {
  const account = await accountOf(s, accountId);
  if (typeof password !== 'string' || !(await s.hasher.verify(account.passwordHash, password))) {
    throw new ValidationError({ password: translate('account.wrong_current_password') });
  }
  const problem = await s.passwords.problemWith(account, newPassword);
  if (problem) throw new ValidationError({ new_password: problem });
  const hash = await s.passwords.hash(newPassword as string);
  await s.knex.transaction(async (trx) => {
    await s.passwords.replace(trx, account, hash);
    await s.revocation.revokeSessions(account.id, trx);
  });
}

/** Ends every session, grant and token of the account issued before now, the caller's included. */
export async function signOutEverywhere(s: SelfService, accountId: string): Promise<void> {
  await accountOf(s, accountId);
  await s.revocation.revokeSessions(accountId);
}
