import type { Knex } from 'knex';

/**
 * The security event log (issue 5; src/security/events.ts): sign-ins, failures, lockouts,
 * registrations, resets, token reuse... ASVS V16 (security logging). Kept for
 * `securityEvents.retentionDays`, read with `npx gatehouse events`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('security_events', (t) => {
    t.bigIncrements('id').primary();
    t.text('type').notNullable();
    // No foreign key: the log outlives the accounts it speaks of, and recording an event never
    // fails because an account was deleted at the same moment. Null when no account is known
    // (a failed login for an address that has none).
    t.uuid('account_id');
    t.text('ip');
    // Truncated by src/security/events.ts.
    t.text('user_agent');
    // Sanitised: whitelisted keys with short primitive values, never secrets.
    t.jsonb('details').notNullable().defaultTo('{}');
    // Millisecond precision, as JavaScript dates have: a listed event's created_at is exact
    // (the CLI pages with it).
    t.timestamp('created_at', { useTz: true, precision: 3 }).notNullable().defaultTo(knex.raw('now()'));
    t.index(['account_id', 'created_at']);
    t.index(['type', 'created_at']);
    // The retention sweep and unfiltered listing.
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('security_events');
}
