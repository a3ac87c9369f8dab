import type { Knex } from 'knex';
import { checkPassword, type Account, type Accounts } from '../accounts.service.ts';
import type { PasswordHasher } from './hasher.ts';
import { createPasswordHistoryRepo } from './history.repo.ts';
import { translate } from '../../i18n/locale.ts';

export interface PasswordsDeps {
  knex: Knex;
  accounts: Accounts;
  hasher: PasswordHasher;
  /** A new password must differ from this many most recent ones, the current one included. */
  historySize: number;
}

/** Setting a new password (reset or change): the policy, the history rule, and remembering the old hash. */
export function createPasswords({ knex, accounts, hasher, historySize }: PasswordsDeps) {
  const history = createPasswordHistoryRepo(knex);
  return {
    /** What is wrong with `password` as the account's new password, or undefined. */
    async problemWith(account: Account, password: unknown): Promise<string | undefined> {
      // The account's own e-mail address, name and username are as guessable at a reset as at registration.
      const policy = checkPassword(password, accounts.passwordPolicy, { email: account.email, name: account.name, username: account.username ?? undefined });
      if (policy) return policy;
      const previous = [account.passwordHash, ...(await history.recent(account.id, historySize - 1))];
      // argon2 runs on libuv's threads: the comparisons run side by side.
      const matches = await Promise.all(previous.map((hash) => hasher.verify(hash, password as string)));
      if (matches.some(Boolean)) return translate('password.reused', { count: historySize });
      return undefined;
    },

    hash: (password: string) => hasher.hash(password),

    /** Replaces the password in `trx` and remembers the old one. */
    async replace(trx: Knex, account: Account, newHash: string): Promise<void> {
      await accounts.repo.updatePasswordHash(account.id, newHash, trx);
      await history.add(trx, account.id, account.passwordHash, Math.max(0, historySize - 1));
    },
  };
}

export type Passwords = ReturnType<typeof createPasswords>;
