import type { Knex } from 'knex';
import { isUuid } from '../db/uuid.ts';

export interface Account {
  id: string;
  email: string;
  username: string | null;
  name: string;
  emailVerifiedAt: Date | null;
  passwordHash: string;
  roles: string[];
  disabled: boolean;
  /** "Signed out everywhere" at this instant (src/accounts/revocation). */
  sessionsRevokedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface AccountRow {
  id: string;
  email: string;
  email_normalized: string;
  username: string | null;
  username_normalized: string | null;
  name: string;
  email_verified_at: Date | null;
  password_hash: string;
  roles: string[];
  disabled: boolean;
  sessions_revoked_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    name: row.name,
    emailVerifiedAt: row.email_verified_at,
    passwordHash: row.password_hash,
    roles: row.roles,
    disabled: row.disabled,
    sessionsRevokedAt: row.sessions_revoked_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Where an account stands in creation order (`createdAt` an ISO instant with microseconds). */
export interface AccountPosition {
  createdAt: string;
  id: string;
}

/** `%`, `_` and `\\` typed into a search are matched as themselves. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export interface NewAccountRow {
  email: string;
  emailNormalized: string;
  username: string | null;
  usernameNormalized: string | null;
  name: string;
  passwordHash: string;
  roles: string[];
  emailVerifiedAt: Date | null;
}

export function createAccountsRepo(knex: Knex) {
  return {
    /** Inserts; returns undefined when the e-mail address or username is already taken. */
    async insert(a: NewAccountRow, trx: Knex = knex): Promise<Account | undefined> {
      const rows = (await trx('accounts')
        .insert({
          email: a.email,
          email_normalized: a.emailNormalized,
          username: a.username,
          username_normalized: a.usernameNormalized,
          name: a.name,
          password_hash: a.passwordHash,
          roles: a.roles,
          email_verified_at: a.emailVerifiedAt,
        })
        .onConflict()
        .ignore()
        .returning('*')) as AccountRow[];
      return rows[0] ? toAccount(rows[0]) : undefined;
    },

    async findById(id: string, trx: Knex = knex): Promise<Account | undefined> {
      if (!isUuid(id)) return undefined;
      const row = (await trx('accounts').where({ id }).first()) as AccountRow | undefined;
      return row ? toAccount(row) : undefined;
    },

    /** By normalised e-mail address or normalised username. */
    async findByLogin(normalized: string, trx: Knex = knex): Promise<Account | undefined> {
      // Postgres text cannot hold a NUL (nor can a stored login have one): such a login names
      // no account, rather than failing the query (issue 15: a reset job that died in the store).
      if (normalized.includes('\u0000')) return undefined;
      const row = (await trx('accounts')
        .where({ email_normalized: normalized })
        .orWhere({ username_normalized: normalized })
        .orderByRaw('email_normalized = ? desc', [normalized])
        .first()) as AccountRow | undefined;
      return row ? toAccount(row) : undefined;
    },

    /**
     * One page of accounts in creation order (then id), optionally those whose e-mail address,
     * username or name contains `q` (any case). `after` is the last row's position: accounts
     * created meanwhile come on later pages, none is skipped or repeated (microseconds kept).
     */
    async page({ q, limit, after }: { q?: string; limit: number; after?: AccountPosition }): Promise<{ account: Account; position: AccountPosition }[]> {
      const query = knex('accounts')
        .select('*', knex.raw(`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as position`))
        .orderBy([{ column: 'created_at' }, { column: 'id' }])
        .limit(limit);
      if (q) {
        const pattern = likePattern(q);
        query.where((w) => w.whereILike('email', pattern).orWhereILike('username', pattern).orWhereILike('name', pattern));
      }
      if (after) query.whereRaw('(created_at, id) > (?::timestamptz, ?::uuid)', [after.createdAt, after.id]);
      const rows = (await query) as (AccountRow & { position: string })[];
      return rows.map((row) => ({ account: toAccount(row), position: { createdAt: row.position, id: row.id } }));
    },

    async updatePasswordHash(id: string, passwordHash: string, trx: Knex = knex): Promise<void> {
      await trx('accounts').where({ id }).update({ password_hash: passwordHash, updated_at: trx.fn.now() });
    },

    /** Replaces the hash only if it is still `expected`; false when something changed it first. */
    async replacePasswordHash(id: string, expected: string, passwordHash: string, trx: Knex = knex): Promise<boolean> {
      const updated = await trx('accounts').where({ id, password_hash: expected }).update({ password_hash: passwordHash, updated_at: trx.fn.now() });
      return updated > 0;
    },

    async update(id: string, fields: Partial<Pick<Account, 'name' | 'disabled' | 'roles' | 'emailVerifiedAt'>>, trx: Knex = knex) {
      const row: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (fields.name !== undefined) row.name = fields.name;
      if (fields.disabled !== undefined) row.disabled = fields.disabled;
      if (fields.roles !== undefined) row.roles = fields.roles;
      if (fields.emailVerifiedAt !== undefined) row.email_verified_at = fields.emailVerifiedAt;
      const rows = (await trx('accounts').where({ id }).update(row).returning('*')) as AccountRow[];
      return rows[0] ? toAccount(rows[0]) : undefined;
    },
  };
}

export type AccountsRepo = ReturnType<typeof createAccountsRepo>;
