import type { Knex } from 'knex';

/** Accounts, clients, signing keys and oidc-provider model storage (used without Redis). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('email').notNullable();
    // Lower-cased, NFKC-normalised, trimmed: what uniqueness and look-ups use.
    t.text('email_normalized').notNullable().unique();
    t.text('username');
    t.text('username_normalized').unique();
    t.text('name').notNullable().defaultTo('');
    t.timestamp('email_verified_at', { useTz: true });
    t.text('password_hash').notNullable();
    t.specificType('roles', 'text[]').notNullable().defaultTo('{}');
    t.boolean('disabled').notNullable().defaultTo(false);
    t.timestamps(true, true);
  });

  await knex.schema.createTable('clients', (t) => {
    t.text('client_id').primary();
    // The OIDC client metadata as oidc-provider reads it; the secret inside is encrypted.
    t.jsonb('metadata').notNullable();
    t.text('secret_enc');
    t.boolean('first_party').notNullable().defaultTo(false);
    t.timestamps(true, true);
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable();
    t.jsonb('public_jwk').notNullable();
    // AES-256-GCM of the private JWK under a key derived from SECRETS.
    t.text('private_jwk_enc').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('retired_at', { useTz: true });
  });

  await knex.schema.createTable('oidc_payloads', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.jsonb('payload').notNullable();
    t.text('grant_id');
    t.text('user_code');
    t.text('uid');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.primary(['model', 'id']);
    t.index(['grant_id']);
    t.index(['uid']);
    t.index(['user_code']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['oidc_payloads', 'signing_keys', 'clients', 'accounts']) {
    await knex.schema.dropTableIfExists(table);
  }
}
