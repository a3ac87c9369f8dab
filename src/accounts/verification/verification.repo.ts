import type { Knex } from 'knex';

/** Marks the address confirmed, keeping the first confirmation's time. */
export async function markEmailVerified(trx: Knex, accountId: string): Promise<void> {
  await trx('accounts')
    .where({ id: accountId })
    .update({ email_verified_at: trx.raw('coalesce(email_verified_at, now())'), updated_at: trx.fn.now() });
}
