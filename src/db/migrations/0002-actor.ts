/**
 * Who made each change (SPEC §6): `actor` on `audit_events` and on `imports`. The format is
 * app/actor.ts's: `daemon` (later `daemon:<feed>`), `user@host` for a command line, or the name
 * given with `--by`. Rows written before this column existed keep null: who made them is not known.
 *
 * Additive only: a nullable column at the end of each table, which SQLite adds without rewriting
 * the table and MariaDB (10.3+) adds instantly, so a large audit trail migrates in no time.
 */
import type { Knex } from 'knex';

/** Longest actor kept: a host name alone may be 253 characters. */
const ACTOR_LENGTH = 255;

export async function up(knex: Knex): Promise<void> {
  for (const table of ['audit_events', 'imports']) {
    await knex.schema.alterTable(table, (t) => {
      t.string('actor', ACTOR_LENGTH).nullable().comment('who: daemon[:feed], user@host, or the --by name');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_events', 'imports']) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('actor');
    });
  }
}
