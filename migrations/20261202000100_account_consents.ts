import type { Knex } from 'knex';

/**
 * The apps a person consented to (issue 12: `/account` lists them, with "remove access").
 * oidc-provider's storage finds grants by id only, never by account, so each consent given on
 * the hosted consent page is recorded here: one row per grant, its client and account.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('account_consents', (t) => {
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('client_id').notNullable();
    t.text('grant_id').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.primary(['account_id', 'grant_id']);
  });
  // Signing a browser out ends the first-party sessions opened from its provider session.
  await knex.schema.alterTable('first_party_families', (t) => t.index(['oidc_session_uid']));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('first_party_families', (t) => t.dropIndex(['oidc_session_uid']));
  await knex.schema.dropTable('account_consents');
}
