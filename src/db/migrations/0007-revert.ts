/**
 * Revert (SPEC §10), on `imports`:
 * - `reverts_import_id`: on a revert's row, the import it undoes (the register links both ways:
 *   the reverted import finds its reverts through the index);
 * - `reverted`, `conflicts`: a revert's report counts — users set back, and fields it left alone
 *   because they changed again after the import (0 on every other import).
 *
 * Additive only: nullable and defaulted columns at the end.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.bigInteger('reverts_import_id').nullable().comment('a revert: the import it undoes (SPEC §10)');
    t.integer('reverted').notNullable().defaultTo(0);
    t.integer('conflicts').notNullable().defaultTo(0);
    t.index(['reverts_import_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.dropIndex(['reverts_import_id']);
    for (const column of ['reverts_import_id', 'reverted', 'conflicts']) t.dropColumn(column);
  });
}
