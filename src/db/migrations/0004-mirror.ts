/**
 * Mirror feeds (SPEC §8), on `users`:
 * - `feed`: the feed that owns the user — the one that created it, or the mirror feed that last
 *   listed it; null for users created before feeds were recorded (a mirror file adopts them);
 * - `missing_count`: how many applied files of its mirror feed in a row left the user out (reset
 *   when one lists it again);
 * - `deactivated_reason`: `absent` when a mirror feed deactivated the user, else null.
 * and `imports.deactivated`, the users an import deactivated for absence.
 *
 * Additive only: columns with defaults at the end, added in place by SQLite and instantly by
 * MariaDB; the index lets a mirror import find its feed's users without reading the others.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.string('feed', 64).nullable().comment('the feed that owns the user (SPEC §8)');
    t.integer('missing_count').notNullable().defaultTo(0);
    t.string('deactivated_reason', 16).nullable().comment('absent: deactivated by a mirror feed');
    t.index(['feed', 'active']);
  });
  await knex.schema.alterTable('imports', (t) => {
    t.integer('deactivated').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropIndex(['feed', 'active']);
    for (const column of ['feed', 'missing_count', 'deactivated_reason']) t.dropColumn(column);
  });
  await knex.schema.alterTable('imports', (t) => {
    t.dropColumn('deactivated');
  });
}
