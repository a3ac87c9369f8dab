import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { ImportAccount } from './import-record.ts';

/**
 * Where `user import` puts accounts: the accounts table, or for `--dry-run` a scratch table
 * that only remembers which e-mail addresses and usernames the file has taken so far.
 */
export interface ImportTarget {
  /**
   * Inserts the accounts in order, one transaction for the batch; an account whose e-mail
   * address or username is taken is left out. Returns the normalised e-mail addresses stored.
   */
  insert(accounts: ImportAccount[]): Promise<Set<string>>;
  /** Which of these normalised e-mail addresses and usernames are taken. */
  taken(emails: string[], usernames: string[]): Promise<{ emails: Set<string>; usernames: Set<string> }>;
  close(): Promise<void>;
}

function toRow(a: ImportAccount, now: Date) {
  const createdAt = a.createdAt ?? now;
  return {
    email: a.email,
    email_normalized: a.emailNormalized,
    username: a.username,
    username_normalized: a.usernameNormalized,
    name: a.name,
    password_hash: a.passwordHash,
    roles: a.roles,
    email_verified_at: a.emailVerified ? now : null,
    disabled: a.disabled,
    created_at: createdAt,
    updated_at: now,
  };
}

async function takenIn(knex: Knex, table: string, emails: string[], usernames: string[], conn?: unknown) {
  const q = (column: string, values: string[]) => {
    const query = knex(table).select(column).whereIn(column, values);
    return values.length ? (conn ? query.connection(conn) : query) : Promise.resolve([]);
  };
  const [e, u] = (await Promise.all([q('email_normalized', emails), q('username_normalized', usernames)])) as [
    { email_normalized: string }[],
    { username_normalized: string }[],
  ];
  return { emails: new Set(e.map((r) => r.email_normalized)), usernames: new Set(u.map((r) => r.username_normalized)) };
}

/** The accounts table. ON CONFLICT DO NOTHING: a taken address is an error line, not an abort. */
export function accountsTarget(knex: Knex): ImportTarget {
  return {
    async insert(accounts) {
      if (!accounts.length) return new Set();
      const now = new Date();
      const rows = (await knex.transaction((trx) =>
        trx('accounts').insert(accounts.map((a) => toRow(a, now))).onConflict().ignore().returning('email_normalized'),
      )) as { email_normalized: string }[];
      return new Set(rows.map((r) => r.email_normalized));
    },
    taken: (emails, usernames) => takenIn(knex, 'accounts', emails, usernames),
    async close() {},
  };
}

/**
 * A dry run's target: nothing reaches the accounts table. A temporary table on one pinned
 * connection stands in for it, holding only the keys of the lines that would have been
 * imported, so that duplicates within the file are found as the real run finds them. No long
 * transaction: on the embedded database one would hold up a running server.
 */
export async function dryRunTarget(knex: Knex): Promise<ImportTarget> {
  const conn: unknown = await knex.client.acquireConnection();
  const table = `gatehouse_import_dry_run_${randomBytes(6).toString('hex')}`;
  try {
    await knex.raw('create temporary table ?? (email_normalized text primary key, username_normalized text unique)', [table]).connection(conn);
  } catch (err) {
    await knex.client.releaseConnection(conn);
    throw err;
  }
  return {
    async insert(accounts) {
      if (!accounts.length) return new Set();
      const { rows } = (await knex
        .raw(
          `insert into ?? (email_normalized, username_normalized)
           select v.e, v.u from unnest(?::text[], ?::text[]) with ordinality as v(e, u, n)
           where not exists (select 1 from accounts a where a.email_normalized = v.e or a.username_normalized = v.u)
           order by v.n
           on conflict do nothing
           returning email_normalized`,
          [table, accounts.map((a) => a.emailNormalized), accounts.map((a) => a.usernameNormalized) as string[]],
        )
        .connection(conn)) as { rows: { email_normalized: string }[] };
      return new Set(rows.map((r) => r.email_normalized));
    },
    async taken(emails, usernames) {
      const [real, scratch] = [await takenIn(knex, 'accounts', emails, usernames), await takenIn(knex, table, emails, usernames, conn)];
      return { emails: new Set([...real.emails, ...scratch.emails]), usernames: new Set([...real.usernames, ...scratch.usernames]) };
    },
    async close() {
      try {
        await knex.raw('drop table if exists ??', [table]).connection(conn);
      } finally {
        await knex.client.releaseConnection(conn);
      }
    },
  };
}
