import type { Account } from '../../accounts/accounts.repo.ts';
import { translate } from '../../http/views.ts';

/** The account page's templates (views/). */
export const ACCOUNT_TEMPLATES = { account: 'account', notice: 'notice' } as const;

/** The account page: who is signed in, the name form (with what was typed), the password form, sign out everywhere. */
export function accountView(account: Pick<Account, 'email' | 'username' | 'name'>, extra: Record<string, unknown> = {}) {
  return { title: translate('account.title'), account: { email: account.email, username: account.username }, values: { name: account.name }, fields: {}, ...extra };
}

const DONE = { name: 'account.saved_name', others: 'account.signed_out_others', app: 'account.app_removed', mfa_removed: 'account.mfa_removed', passkey_added: 'account.passkey_added', passkey_removed: 'account.passkey_removed' } as const;

/** The notice of a change just made (`?done=`), or nothing. */
export function doneNotice(done: unknown): { notice?: string } {
  return typeof done === 'string' && Object.hasOwn(DONE, done) ? { notice: translate(DONE[done as keyof typeof DONE]) } : {};
}

const SIGNED_OUT = {
  password: { title: 'account.password_changed_title', body: 'account.password_changed_body' },
  sessions: { title: 'account.signed_out_title', body: 'account.signed_out_body' },
  'signed-out': { title: 'account.signed_out_here_title', body: 'account.signed_out_here_body' },
} as const;

/** After a password change or "sign out everywhere": this session ended too; sign in again. */
export function signedOut(why: keyof typeof SIGNED_OUT) {
  return { title: translate(SIGNED_OUT[why].title), body: translate(SIGNED_OUT[why].body), linkUrl: '/login', linkText: translate('login.submit') };
}
