import type { EmailTemplate } from '../../email/templates.ts';
import type { SelfService } from '../self-service/self-service.ts';

/**
 * Tells the owner of an account that its second factors changed (issue 13): one was added (an
 * authenticator app, a passkey), or an admin removed them. Someone who learnt the password
 * could otherwise add a factor of their own unseen. The mail links to /account.
 */
export async function mailFactorNotice(s: Pick<SelfService, 'accounts' | 'knex' | 'outbox' | 'sendAfterCommit'>, accountId: string, template: Extract<EmailTemplate, 'factor-added' | 'factors-removed'>): Promise<void> {
  const account = await s.accounts.findById(accountId);
  if (!account || account.disabled) return;
  const message = await s.outbox.record({ accountId: account.id, to: { address: account.email, name: account.name }, template }, s.knex);
  await s.sendAfterCommit([message.id]);
}
