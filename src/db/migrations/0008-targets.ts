/**
 * Provisioning to SCIM targets (SPEC §12). The outbox is the audit trail itself: every committed
 * change to a user already writes a `user.*` event in its own transaction, chained in commit order
 * (`seq`, migration 0006). Each target keeps a cursor into that order, so a change is queued for
 * every target by the same insert that audits it, costs an import nothing more, and a target
 * configured later receives the whole history.
 * - `target_state`: per target, `cursor_seq` (every user event up to it is delivered or parked),
 *   a lease (`lease_owner`, `lease_until`) so one process delivers at a time, a pause
 *   (`paused_by`, `paused_until`) a `targets sync` asks the daemon for, `delivered` (users
 *   delivered, ever), `last_success_at`, `last_error`;
 * - `target_users`: per target and user, the target's id for it (`remote_id`), what was last
 *   delivered (`snapshot`, JSON, never a password), and `status`: synced | parked (the target
 *   refused it: `error`) | retry (an operator asked for it again);
 * - `target_groups`: per target, the SCIM group of each role and group, by key.
 *
 * Additive only: new tables. Usernames and keys use the binary collation of 0001 on MySQL.
 */
import type { Knex } from 'knex';

const TIME = 24;
const KEY = 191;
const NAME = 64;

async function binaryCollation(knex: Knex): Promise<string | undefined> {
  if (knex.client.config.client !== 'mysql2') return undefined;
  const [rows] = (await knex.raw('SELECT VERSION() AS version')) as [Array<{ version: string }>];
  return /mariadb/i.test(rows[0]?.version ?? '') ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

export async function up(knex: Knex): Promise<void> {
  const collation = await binaryCollation(knex);
  const mysqlTable = (t: Knex.CreateTableBuilder) => {
    if (collation) {
      t.charset('utf8mb4');
      t.engine('InnoDB');
    }
  };
  const keyColumn = (t: Knex.CreateTableBuilder, name: string) => {
    const column = t.string(name, KEY).notNullable();
    if (collation) column.collate(collation);
    return column;
  };
  await knex.schema.createTable('target_state', (t) => {
    mysqlTable(t);
    t.string('target', NAME).notNullable().primary();
    t.bigInteger('cursor_seq').notNullable().defaultTo(0).comment('user events up to here are delivered or parked');
    t.string('lease_owner', 128).nullable();
    t.string('lease_until', TIME).nullable();
    t.string('paused_by', 128).nullable().comment('a `targets sync` that asked the daemon to stand aside');
    t.string('paused_until', TIME).nullable();
    t.bigInteger('delivered').notNullable().defaultTo(0);
    t.string('last_success_at', TIME).nullable();
    t.text('last_error').nullable();
    t.string('last_error_at', TIME).nullable();
  });
  await knex.schema.createTable('target_users', (t) => {
    mysqlTable(t);
    t.string('target', NAME).notNullable();
    keyColumn(t, 'username');
    t.string('remote_id', 255).nullable().comment('the SCIM id the target gave the user');
    t.text('snapshot').nullable().comment('what was last delivered (JSON); never a password');
    t.string('status', 16).notNullable().defaultTo('synced').comment('synced | parked | retry');
    t.bigInteger('seq').nullable().comment('the last user event delivered or parked');
    t.text('error').nullable().comment('why the target refused it (parked)');
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('updated_at', TIME).notNullable();
    t.primary(['target', 'username']);
    t.index(['target', 'status']);
  });
  await knex.schema.createTable('target_groups', (t) => {
    mysqlTable(t);
    t.string('target', NAME).notNullable();
    t.string('kind', 8).notNullable().comment('role | group');
    keyColumn(t, 'name_key');
    t.string('remote_id', 255).notNullable();
    t.string('display_name', 255).notNullable();
    t.primary(['target', 'kind', 'name_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['target_groups', 'target_users', 'target_state']) await knex.schema.dropTable(table);
}
