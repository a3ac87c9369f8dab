import type { Knex } from 'knex';

/**
 * Second factors (issue 13): one TOTP authenticator per account, its secret sealed with the
 * secret box (src/crypto/secret-box.ts) and the last time step it accepted (a code is good
 * once: RFC 6238 §5.2); and the account's recovery codes, stored as SHA-256 digests, each
 * spent once. A TOTP row without `confirmed_at` is an enrolment not yet confirmed with a code.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_totp', (t) => {
    t.uuid('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('secret_sealed').notNullable();
    t.bigInteger('last_step');
    t.timestamp('confirmed_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
  });
  await knex.schema.createTable('account_recovery_codes', (t) => {
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('code_hash').notNullable();
    t.timestamp('used_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.primary(['account_id', 'code_hash']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('account_recovery_codes');
  await knex.schema.dropTable('account_totp');
}
