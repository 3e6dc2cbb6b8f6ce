/**
 * Feeds, holds and their decisions (SPEC §8–9), on the register:
 * - `feed`: the feed the file belonged to (`inbox` when no configured feed matched);
 * - `guards`: JSON `{counts, tripped}` — every guard's count in the file's plan, and the guards that
 *   tripped (a held import) or were overridden with `--allow`;
 * - `hold_id`: on an import that applied (or held again) an approved hold, the held import;
 * - `decision`, `decided_by`, `decided_at`, `decision_note`: on a held import, how it was decided
 *   (`approved` | `declined`); `resolved_by`: the import that then applied it.
 *
 * Additive only: nullable columns at the end, added in place by SQLite and instantly by MariaDB.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.string('feed', 64).nullable().comment('the feed of the file (SPEC §8)');
    t.text('guards').nullable().comment('JSON {counts, tripped}: the plan checked against the guards');
    t.bigInteger('hold_id').unsigned().nullable().comment('the held import this import applied');
    t.string('decision', 16).nullable().comment('approved | declined, on a held import');
    t.string('decided_by', 255).nullable();
    t.string('decided_at', 32).nullable();
    t.text('decision_note').nullable();
    t.bigInteger('resolved_by').unsigned().nullable().comment('the import that applied this held one');
    t.index(['feed']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('imports', (t) => {
    t.dropIndex(['feed']);
    for (const column of [
      'feed',
      'guards',
      'hold_id',
      'decision',
      'decided_by',
      'decided_at',
      'decision_note',
      'resolved_by',
    ])
      t.dropColumn(column);
  });
}
