import type { SelfService } from '../self-service/self-service.ts';

/**
 * Sign-in to the account was just locked after too many wrong passwords (issue 12): its owner
 * gets one notice per lock (the throttle reports the lock once), with a link to choose a new
 * password. A disabled account gets nothing. Called without waiting, so a lock answers as fast
 * for an existing account as for an unknown login. Locked by wrong second-factor codes after
 * the right password (issue 13), the notice says the password is known: `second-factor-locked`.
 */
export async function mailLockNotice(s: SelfService, accountId: string, template: 'account-locked' | 'second-factor-locked' = 'account-locked'): Promise<void> {
  const account = await s.accounts.repo.findById(accountId);
  if (!account || account.disabled) return;
  await s.mailLink(account, { purpose: 'reset', ttlSeconds: s.config.email.resetTokenTtlSeconds, template });
}
