import type { Knex } from 'knex';

/**
 * Passkeys (issue 13): WebAuthn discoverable credentials, each named by its owner, with the
 * signature counter and when it was last used; and the challenges of ceremonies in progress,
 * each taken once (deleted as it is checked) and good for a few minutes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webauthn_credentials', (t) => {
    t.text('id').primary(); // the credential ID, base64url
    t.uuid('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('public_key').notNullable(); // COSE key, base64url
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.jsonb('transports');
    t.text('device_type').notNullable(); // singleDevice | multiDevice
    t.boolean('backed_up').notNullable().defaultTo(false);
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.timestamp('last_used_at', { useTz: true });
    t.index(['account_id']);
  });
  await knex.schema.createTable('webauthn_challenges', (t) => {
    t.text('challenge').primary();
    t.text('purpose').notNullable(); // register | login
    t.uuid('account_id').references('id').inTable('accounts').onDelete('CASCADE');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webauthn_challenges');
  await knex.schema.dropTable('webauthn_credentials');
}
