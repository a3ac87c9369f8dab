import type { Knex } from 'knex';
import { asciiDomain, normalizeEmail, normalizeUsername } from '../identifiers.ts';
import { ConflictError, EmailNotVerifiedError, InvalidCredentialsError, ValidationError } from '../errors.ts';
import { createAccountsRepo, type Account, type NewAccountRow } from './accounts.repo.ts';
import type { PasswordHasher } from './passwords/hasher.ts';
import { hashScheme } from './passwords/legacy-hashes.ts';
import { PASSWORD_UPGRADED, type SecurityEvents } from '../security/events.ts';
import { checkPasswordPolicy, DEFAULT_PASSWORD_POLICY, type PasswordContext, type PasswordPolicy } from './passwords/password-policy.ts';
import { translate } from '../i18n/locale.ts';

export type { Account } from './accounts.repo.ts';

/** The role that makes an account an administrator (the admin API, the `admin` scope). */
export const ADMIN_ROLE = 'admin';


// Deliberately simple (WHATWG's input[type=email] rule): the confirmation mail is the real test.
const EMAIL_RE = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;
const USERNAME_RE = /^[a-z0-9][a-z0-9_.-]{2,31}$/;
// C0/C1 control characters (CR, LF, NUL...) never belong in a name or an address.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

export interface NewAccount {
  email: string;
  password: string;
  name?: string;
  username?: string;
  roles?: string[];
  verified?: boolean;
}

/** Field problems of a would-be account (empty when all is well). */
export function validateNewAccount(input: NewAccount, policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY): Record<string, string> {
  const fields = validateAccountFields(input);
  const passwordProblem = checkPassword(input.password, policy, { email: input.email, name: input.name, username: input.username });
  if (passwordProblem) fields.password = passwordProblem;
  return fields;
}

/** Problems with the e-mail address, username and name of an account (`user import` checks these too). */
export function validateAccountFields(input: Pick<NewAccount, 'email' | 'name' | 'username'>): Record<string, string> {
  const fields: Record<string, string> = {};
  const email = typeof input.email === 'string' ? input.email.trim() : '';
  const at = email.lastIndexOf('@');
  const local = at > 0 ? email.slice(0, at) : email;
  // An internationalised domain is checked (and compared, normalizeEmail) in its ASCII form.
  const ascii = at > 0 ? `${local}@${asciiDomain(email.slice(at + 1).toLowerCase())}` : email;
  if (at > 0 && /[^\x00-\x7f]/.test(local) && !CONTROL_RE.test(email)) {
    // RFC 6531 (SMTPUTF8) local parts: not every mail server takes them, so not accepted yet, and said so.
    fields.email = translate('form.email_local_ascii');
  } else if (!email || email.length > 254 || ascii.length > 254 || CONTROL_RE.test(email) || !EMAIL_RE.test(ascii)) {
    fields.email = translate('form.invalid_email');
  }
  if (input.username !== undefined && input.username !== '') {
    if (typeof input.username !== 'string' || !USERNAME_RE.test(normalizeUsername(input.username))) {
      fields.username = translate('account.invalid_username');
    }
  }
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.length > 200 || CONTROL_RE.test(input.name))) {
    fields.name = translate('account.invalid_name');
  }
  return fields;
}

/**
 * The password policy's verdict (passwords/password-policy.ts) on one password, or
 * undefined when acceptable; `context` is the account's own e-mail, name and username.
 */
export function checkPassword(password: unknown, policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY, context: PasswordContext = {}): string | undefined {
  return checkPasswordPolicy(password, context, policy);
}

/** OIDC standard claims of an account, by granted scope (OIDC Core §5.4). */
export function claimsFor(account: Account, scopes: Set<string>): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: account.id };
  if (scopes.has('email')) {
    claims.email = account.email;
    claims.email_verified = account.emailVerifiedAt !== null;
  }
  if (scopes.has('profile')) {
    claims.name = account.name;
    if (account.username) claims.preferred_username = account.username;
    claims.updated_at = Math.floor(account.updatedAt.getTime() / 1000);
  }
  return claims;
}

export interface AccountsDeps {
  knex: Knex;
  hasher: PasswordHasher;
  passwordPolicy?: PasswordPolicy;
  /** Records the replacement of a stored hash at sign-in (an imported one, or old argon2 parameters). */
  events?: Pick<SecurityEvents, 'record'>;
}

export function createAccounts({ knex, hasher, passwordPolicy = DEFAULT_PASSWORD_POLICY, events }: AccountsDeps) {
  const repo = createAccountsRepo(knex);

  /**
   * The one way a new account is made (`create`, and self-registration, which inserts it in a
   * transaction of its own): the input checked (ValidationError), the password hashed, and the
   * row `repo.insert` takes. Hashing happens here, outside any transaction, so that argon2 never
   * holds one open.
   */
  async function prepare(input: NewAccount): Promise<NewAccountRow> {
    const fields = validateNewAccount(input, passwordPolicy);
    if (Object.keys(fields).length) throw new ValidationError(fields);
    const username = input.username?.trim() || null;
    return {
      email: input.email.trim(),
      emailNormalized: normalizeEmail(input.email),
      username,
      usernameNormalized: username ? normalizeUsername(username) : null,
      name: (input.name ?? '').trim(),
      passwordHash: await hasher.hash(input.password),
      roles: input.roles ?? [],
      emailVerifiedAt: input.verified ? new Date() : null,
    };
  }

  return {
    repo,
    passwordPolicy,

    prepare,

    /**
     * Creates an account. Throws ValidationError for bad input and ConflictError when the
     * e-mail address or username is taken (callers facing the public decide what to reveal).
     */
    async create(input: NewAccount, trx: Knex = knex): Promise<Account> {
      const account = await repo.insert(await prepare(input), trx);
      if (!account) throw new ConflictError('ACCOUNT_EXISTS', translate('register.exists'));
      return account;
    },

    findById: (id: string) => repo.findById(id),

    /**
     * Checks a login (e-mail address or username) and password. An unknown, disabled or
     * wrong-password account all give InvalidCredentialsError after the same argon2 work.
     */
    async authenticate(login: string, password: string, { requireVerified = true } = {}): Promise<Account> {
      if (
        typeof login !== 'string' ||
        typeof password !== 'string' ||
        login.length > 320 ||
        CONTROL_RE.test(login) ||
        password.length > passwordPolicy.maxLength * 4
      ) {
        await hasher.verify(undefined, 'x');
        throw new InvalidCredentialsError();
      }
      const account = await repo.findByLogin(normalizeEmail(login));
      const ok = await hasher.verify(account?.passwordHash, password);
      if (!account || !ok || account.disabled) throw new InvalidCredentialsError();
      if (hasher.needsRehash(account.passwordHash)) {
        // Issue 14: an imported hash (or argon2id with old parameters) becomes argon2id with the
        // current ones, only if no other request (a reset, a parallel sign-in) changed it first.
        const from = hashScheme(account.passwordHash);
        if (await repo.replacePasswordHash(account.id, account.passwordHash, await hasher.hash(password))) {
          await events?.record(PASSWORD_UPGRADED, { accountId: account.id, details: { from } });
        }
      }
      if (requireVerified && !account.emailVerifiedAt) throw new EmailNotVerifiedError();
      return account;
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
