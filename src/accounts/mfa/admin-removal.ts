import { ADMIN_USER_FACTORS_REMOVED, type SecurityEventContext, type SecurityEvents } from '../../security/events.ts';
import type { SelfService } from '../self-service/self-service.ts';
import type { SecondFactors } from './factors.service.ts';
import { mailFactorNotice } from './notices.ts';

export interface FactorRemovalDeps {
  factors: Pick<SecondFactors, 'removeAll'>;
  selfService: Pick<SelfService, 'accounts' | 'knex' | 'outbox' | 'sendAfterCommit'>;
  events: Pick<SecurityEvents, 'record'>;
}

/**
 * Recovery of access (issue 13): an admin removes every second factor of an account whose
 * owner lost them all. Recorded as a security event naming who did it, and the owner is told
 * by e-mail (a removal they did not ask for is how they learn of it). Undefined when there is
 * no such account; `removed` is false when it had no factor (then nothing is mailed).
 */
export async function removeFactorsByAdmin(
  { factors, selfService, events }: FactorRemovalDeps,
  accountId: string,
  by: SecurityEventContext & { details?: Record<string, unknown> },
): Promise<{ removed: boolean } | undefined> {
  const account = await selfService.accounts.findById(accountId);
  if (!account) return undefined;
  const removed = await factors.removeAll(account.id);
  await events.record(ADMIN_USER_FACTORS_REMOVED, { ...by, accountId: account.id, details: { ...by.details, removed } });
  if (removed) await mailFactorNotice(selfService, account.id, 'factors-removed');
  return { removed };
}
