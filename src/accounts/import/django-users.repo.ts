import knexFactory from 'knex';

/** A row of Django's `auth_user` (django.contrib.auth.models.User), as `--from-django` reads it. */
export interface DjangoUser {
  id: number;
  username: string;
  email: string;
  /** Django's encoded password: `<algorithm>$...`, or "!..." when unusable. */
  password: string;
  firstName: string;
  lastName: string;
  isActive: boolean;
  isStaff: boolean;
  dateJoined: Date;
}

interface Row {
  id: number;
  username: string;
  email: string;
  password: string;
  first_name: string;
  last_name: string;
  is_active: boolean;
  is_staff: boolean;
  date_joined: Date;
}

/**
 * Reads `auth_user` from the Django database at `url`, in id order, a page at a time (keyset
 * pagination: memory stays flat however many users there are). Read-only; one connection.
 */
export async function* readDjangoUsers(url: string, pageSize = 1000): AsyncGenerator<DjangoUser> {
  const knex = knexFactory({ client: 'pg', connection: { connectionString: url, connectionTimeoutMillis: 5000 }, pool: { min: 0, max: 1 } });
  try {
    let after = 0;
    for (;;) {
      const rows = (await knex('auth_user')
        .select('id', 'username', 'email', 'password', 'first_name', 'last_name', 'is_active', 'is_staff', 'date_joined')
        .where('id', '>', after)
        .orderBy('id')
        .limit(pageSize)) as Row[];
      for (const r of rows) {
        yield {
          id: Number(r.id),
          username: r.username,
          email: r.email,
          password: r.password,
          firstName: r.first_name,
          lastName: r.last_name,
          isActive: r.is_active,
          isStaff: r.is_staff,
          dateJoined: r.date_joined,
        };
      }
      if (rows.length < pageSize) return;
      after = Number(rows.at(-1)!.id);
    }
  } finally {
    await knex.destroy();
  }
}
