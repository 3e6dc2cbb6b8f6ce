/**
 * The outbox of SPEC §11: `notifications`, one row per message, written in the transaction that
 * closes an import and sent by the daemon afterwards, so a down SMTP server never touches an import
 * and a queued message survives a restart.
 * - `recipients`: JSON array of addresses; `subject`, `body_text`, `body_html`: the message as it
 *   was rendered when the import closed;
 * - `import_id`: the import it tells about; its report (imports.report_xlsx_path, recorded in the
 *   same transaction) is attached when it is sent, from wherever the register says it is;
 * - `status`: queued | sent | failed (the server refused it for good); `attempts`,
 *   `next_attempt_at`: the retry schedule; `last_error`: why the last try failed (no secret).
 *
 * Additive only: a new table.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('import_id').unsigned().nullable().comment('the import the message tells about');
    t.string('status', 16).notNullable().defaultTo('queued').comment('queued | sent | failed');
    t.text('recipients').notNullable().comment('JSON array of addresses');
    t.text('subject').notNullable();
    t.text('body_text', 'mediumtext').notNullable();
    t.text('body_html', 'mediumtext').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('created_at', 32).notNullable();
    t.string('next_attempt_at', 32).notNullable();
    t.string('sent_at', 32).nullable();
    t.text('last_error').nullable();
    t.index(['status', 'next_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notifications');
}
