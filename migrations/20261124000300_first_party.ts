import type { Knex } from 'knex';

/**
 * First-party sessions (issue 4). A family is one sign-in: every refresh token rotated from
 * the first one belongs to it, and revoking it (logout, reuse of a rotated token: RFC 9700
 * §4.14.2) ends them all at once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('first_party_families', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('client_id').notNullable().references('clients.client_id').onDelete('CASCADE');
    t.text('scope').notNullable();
    // The oidc-provider session and grant the hosted login made (absent for POST /session/login):
    // ended together with the family, so signing out of the app signs out of Gatehouse.
    t.text('oidc_session_uid');
    t.text('oidc_grant_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // However often the tokens slide, the family ends here.
    t.timestamp('absolute_expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_reason');
    t.index(['account_id']);
    t.index(['absolute_expires_at']);
  });

  await knex.schema.createTable('first_party_refresh_tokens', (t) => {
    // SHA-256 of the token's jti: a database dump holds no usable refresh token.
    t.text('id_hash').primary();
    t.uuid('family_id').notNullable().references('first_party_families.id').onDelete('CASCADE');
    t.text('parent_hash');
    t.text('successor_hash');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // Set when rotated: a second use after the grace window is reuse.
    t.timestamp('used_at', { useTz: true });
    // Sliding: each token lives `refreshIdleSeconds`, never past the family's absolute expiry.
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['family_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('first_party_refresh_tokens');
  await knex.schema.dropTableIfExists('first_party_families');
}
