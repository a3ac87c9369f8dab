import { createLog } from '../email/log.ts';
import { NotFoundError } from '../errors.ts';
import type { Runtime } from '../runtime.ts';
import { ADMIN_USER_CREATED, createSecurityEvents } from '../security/events.ts';
import { createServices } from '../services.ts';
import { cliActor, recordAdminChange } from './audit.ts';
import { asOptionError, CliUsageError, commaList, onePositional, parseOptions, print } from './cli-args.ts';
import { findUser, updateUser, userView, type UserChange } from './users.service.ts';

/**
 * `npx gatehouse user ...` (CONTRACT.md "CLI"): create, list, show, disable, enable, verify,
 * set-roles (`user import` is src/accounts/import). Accounts print as the admin API shows
 * them, never with a password hash; every change is in the audit trail with the actor `cli`.
 */

const OPTION_OF: Record<string, string> = { email: '--email', password: '--password', name: '--name', username: '--username', roles: '--roles' };
const PAGE = 500;

/** The one-line changes of `disable`, `enable` and `verify`. */
const SWITCHES: Record<string, UserChange> = { disable: { disabled: true }, enable: { disabled: false }, verify: { email_verified: true } };

export async function userCommand(runtime: Runtime, sub: string | undefined, rest: string[]): Promise<void> {
  const services = createServices(runtime);
  const { accounts, knex } = services;
  const events = createSecurityEvents({ knex, log: createLog(runtime.config.logLevel, 'gatehouse-cli') });
  const deps = { knex, accounts, events };
  const found = async (who: string) => {
    const account = await findUser(accounts, who);
    if (!account) throw new NotFoundError(`no account ${who}`);
    return account;
  };

  switch (sub) {
    case 'list': {
      const { values, positionals } = parseOptions(rest, { q: { type: 'string' } });
      if (positionals.length) throw new CliUsageError(`user list takes no arguments (got ${positionals[0]}); search with --q TEXT`);
      let after;
      for (;;) {
        const page = await accounts.repo.page({ q: values.q?.trim() || undefined, limit: PAGE, after });
        for (const row of page) print(userView(row.account));
        if (page.length < PAGE) return;
        after = page.at(-1)!.position;
      }
    }
    case 'show': {
      print(userView(await found(onePositional(parseOptions(rest, {}).positionals, 'an account id or e-mail address', 'user show'))));
      return;
    }
    case 'disable':
    case 'enable':
    case 'verify':
    case 'set-roles': {
      const { values, positionals } = parseOptions(rest, sub === 'set-roles' ? { roles: { type: 'string' } } : {});
      const account = await found(onePositional(positionals, 'an account id or e-mail address', `user ${sub}`));
      let change = SWITCHES[sub];
      if (sub === 'set-roles') {
        const roles = (values as { roles?: string }).roles;
        if (roles === undefined) throw new CliUsageError('user set-roles needs --roles a,b (--roles "" for none)');
        change = { roles: commaList(roles) };
      }
      const updated = await updateUser(deps, cliActor(), account.id, change!).catch((err: unknown) => Promise.reject(asOptionError(err, OPTION_OF)));
      print(updated ?? userView(account));
      return;
    }
    case 'create': {
      const { values } = parseOptions(rest, {
        email: { type: 'string' },
        password: { type: 'string' },
        name: { type: 'string' },
        username: { type: 'string' },
        admin: { type: 'boolean' },
        verified: { type: 'boolean' },
      });
      if (!values.email) throw new CliUsageError('--email: required');
      if (!values.password) throw new CliUsageError('--password: required');
      const account = await accounts
        .create({ email: values.email, password: values.password, name: values.name, username: values.username, roles: values.admin ? ['admin'] : [], verified: Boolean(values.verified) })
        .catch((err: unknown) => Promise.reject(asOptionError(err, OPTION_OF)));
      await recordAdminChange(events, ADMIN_USER_CREATED, cliActor(), { accountId: account.id, details: { user: account.email, roles: account.roles, email_verified: account.emailVerifiedAt !== null } });
      print({ id: account.id, email: account.email, username: account.username, roles: account.roles, email_verified: account.emailVerifiedAt !== null });
      return;
    }
    default:
      throw new CliUsageError(`unknown user command ${sub ?? '(none)'}`);
  }
}
