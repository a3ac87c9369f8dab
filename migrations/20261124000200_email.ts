import { getCreateIndexesSQL, getCreateTableSQL, getUpdateTimestampTriggerSQL } from '@agendajs/postgres-backend';
import type { Knex } from 'knex';

// Agenda's job table when JOBS_BACKEND=postgres (src/jobs/queue.ts, AGENDA_TABLE).
const AGENDA_TABLE = 'agenda_jobs';

/**
 * Self-service e-mail (issue 3): the outbox, single-use e-mail tokens, password history, the
 * account's "sessions revoked" instant, and Agenda's job table.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    // Sessions, grants and tokens issued before this instant are void (a password reset,
    // "sign out of other sessions"): src/accounts/recovery/revocation.repo.ts.
    t.timestamp('sessions_revoked_at', { useTz: true });
  });

  await knex.schema.createTable('email_outbox', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('account_id').references('accounts.id').onDelete('CASCADE');
    t.text('to_address').notNullable();
    t.text('to_name').notNullable().defaultTo('');
    t.text('template').notNullable();
    // Template data; a link's token is sealed (secret-box), and removed once sent.
    t.jsonb('data').notNullable().defaultTo('{}');
    t.text('status').notNullable().defaultTo('queued');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The claim of the worker sending it: `claim_id` fences a worker whose lease ran out.
    t.uuid('claim_id');
    t.timestamp('locked_until', { useTz: true });
    // Recorded on delivery. The bodies only for the dev mailbox, which is where they are "delivered".
    t.text('transport');
    t.text('subject');
    t.text('text_body');
    t.text('html_body');
    t.text('message_id');
    t.timestamp('sent_at', { useTz: true });
    t.timestamps(true, true);
    t.index(['status', 'next_attempt_at']);
    t.index(['account_id', 'template', 'created_at']);
    t.index(['sent_at']);
  });
  await knex.raw(`alter table email_outbox add constraint email_outbox_status_check
    check (status in ('queued', 'sending', 'sent', 'failed', 'dead'))`);

  await knex.schema.createTable('email_tokens', (t) => {
    // SHA-256 of the token mailed in the link: a database dump holds no usable link.
    t.text('token_hash').primary();
    t.uuid('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('purpose').notNullable();
    // The OIDC interaction a registration started in, resumed after confirmation.
    t.text('interaction_uid');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'purpose']);
  });

  await knex.schema.createTable('password_history', (t) => {
    t.bigIncrements('id');
    t.uuid('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
    t.text('password_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'id']);
  });

  // Agenda's own schema, made here rather than by every worker at connect (`ensureSchema`), where
  // two processes starting together race on CREATE TRIGGER. An Agenda upgrade that adds columns
  // needs a migration of its own.
  await knex.raw(getCreateTableSQL(AGENDA_TABLE));
  for (const sql of getCreateIndexesSQL(AGENDA_TABLE)) await knex.raw(sql);
  await knex.raw(getUpdateTimestampTriggerSQL(AGENDA_TABLE));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop table if exists "${AGENDA_TABLE}" cascade`);
  await knex.raw(`drop function if exists update_${AGENDA_TABLE}_updated_at()`);
  for (const table of ['password_history', 'email_tokens', 'email_outbox']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.schema.alterTable('accounts', (t) => t.dropColumn('sessions_revoked_at'));
}
