import { normalizeEmail, normalizeUsername } from '../../identifiers.ts';
import { validateAccountFields } from '../accounts.service.ts';
import { ACCEPTED_FORMATS, parseLegacyHash } from '../passwords/legacy-hashes.ts';
import { NO_PASSWORD } from '../passwords/hasher.ts';

/** One account as `user import` stores it (src/accounts/import/import.repo.ts). */
export interface ImportAccount {
  email: string;
  emailNormalized: string;
  username: string | null;
  usernameNormalized: string | null;
  name: string;
  /** As given (verified at the next sign-in, then replaced by argon2id), or NO_PASSWORD. */
  passwordHash: string;
  roles: string[];
  emailVerified: boolean;
  disabled: boolean;
  /** When the account was made where it comes from (Django's date_joined); now when unknown. */
  createdAt: Date | null;
}

/** An account to import, or why the line is refused (the error of the summary). */
export type Checked = { account: ImportAccount } | { error: string };

/** The fields of a JSON line (CONTRACT.md, "Importing users"); anything else is a typo to report. */
const FIELDS = new Set(['email', 'name', 'username', 'email_verified', 'roles', 'password_hash']);
const ROLE_RE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const MAX_ROLES = 20;

/** The stored form of a hash, or why it is refused; never echoes the hash itself. */
export function checkPasswordHash(value: unknown): { hash: string } | { error: string } {
  // Django marks "no usable password" with a leading "!" (UNUSABLE_PASSWORD_PREFIX).
  if (value === undefined || value === null || value === '' || (typeof value === 'string' && value.startsWith('!'))) return { hash: NO_PASSWORD };
  if (typeof value !== 'string') return { error: 'password_hash must be a string' };
  const parsed = parseLegacyHash(value);
  if (!parsed) return { error: `password_hash: unrecognised format (accepted: ${ACCEPTED_FORMATS})` };
  if ('problem' in parsed) return { error: `password_hash: ${parsed.scheme}: ${parsed.problem}` };
  return { hash: value };
}

export interface AccountFields {
  email: unknown;
  name?: unknown;
  username?: unknown;
  emailVerified?: unknown;
  roles?: unknown;
  passwordHash?: unknown;
  disabled?: boolean;
  createdAt?: Date | null;
}

/** Checks one account's fields as registration would, plus roles and the hash format. */
export function checkAccount(fields: AccountFields): Checked {
  if (typeof fields.email !== 'string') return { error: 'email is required' };
  for (const key of ['name', 'username'] as const) {
    if (fields[key] !== undefined && fields[key] !== null && typeof fields[key] !== 'string') return { error: `${key} must be a string` };
  }
  const name = typeof fields.name === 'string' ? fields.name.trim() : '';
  const username = typeof fields.username === 'string' && fields.username.trim() ? fields.username.trim() : undefined;
  const problems = validateAccountFields({ email: fields.email, name, username });
  const first = Object.entries(problems)[0];
  if (first) return { error: `${first[0]}: ${first[1]}` };
  if (fields.emailVerified !== undefined && typeof fields.emailVerified !== 'boolean') return { error: 'email_verified must be true or false' };
  const roles = fields.roles ?? [];
  if (!Array.isArray(roles) || roles.length > MAX_ROLES || !roles.every((r) => typeof r === 'string' && ROLE_RE.test(r))) {
    return { error: `roles must be a list of at most ${MAX_ROLES} names of lower-case letters, digits and _.:- (e.g. ["admin"])` };
  }
  const password = checkPasswordHash(fields.passwordHash);
  if ('error' in password) return password;
  return {
    account: {
      email: fields.email.trim(),
      emailNormalized: normalizeEmail(fields.email),
      username: username ?? null,
      usernameNormalized: username ? normalizeUsername(username) : null,
      name,
      passwordHash: password.hash,
      roles: [...new Set(roles as string[])],
      emailVerified: fields.emailVerified === true,
      disabled: fields.disabled ?? false,
      createdAt: fields.createdAt ?? null,
    },
  };
}

/** One line of a `user import --file` file, already parsed as JSON. */
export function checkImportLine(value: unknown): Checked {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { error: 'not a JSON object' };
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !FIELDS.has(key));
  if (unknown) return { error: `unknown field ${JSON.stringify(unknown.slice(0, 40))} (fields: ${[...FIELDS].join(', ')})` };
  return checkAccount({
    email: record.email,
    name: record.name,
    username: record.username,
    emailVerified: record.email_verified,
    roles: record.roles,
    passwordHash: record.password_hash,
  });
}
