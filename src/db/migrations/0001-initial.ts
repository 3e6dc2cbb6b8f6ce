/**
 * The initial schema (SPEC §5).
 *
 * Identity never depends on collation: usernames and catalogue keys are normalised in domain/
 * and stored in columns with a binary, NO PAD collation on MySQL/MariaDB, so `José` ≠ `jose` and
 * `jose ` ≠ `jose` exactly as on SQLite (PITFALLS §4.7). That is the one dialect branch here.
 * Times are ISO-8601 UTC strings (`2026-11-24T14:15:13.123Z`), never JS Dates (PITFALLS §4.8).
 * Ids are BIGINT: upserts burn auto-increment values (PITFALLS §4.3).
 */
import type { Knex } from 'knex';

const TIME = 24; // length of an ISO-8601 UTC timestamp with milliseconds
const KEY = 191; // longest utf8mb4 column a unique index takes on every supported server

async function binaryCollation(knex: Knex): Promise<string | undefined> {
  if (knex.client.config.client !== 'mysql2') return undefined;
  const [rows] = (await knex.raw('SELECT VERSION() AS version')) as [Array<{ version: string }>];
  const version = rows[0]?.version ?? '';
  // MariaDB: utf8mb4_nopad_bin. MySQL 8: utf8mb4_0900_bin (its binary collations are NO PAD).
  return /mariadb/i.test(version) ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

export async function up(knex: Knex): Promise<void> {
  const collation = await binaryCollation(knex);
  const keyColumn = (t: Knex.CreateTableBuilder, name: string) => {
    const column = t.string(name, KEY).notNullable();
    if (collation) column.collate(collation);
    return column;
  };
  const mysqlTable = (t: Knex.CreateTableBuilder) => {
    if (collation) {
      t.charset('utf8mb4');
      t.engine('InnoDB');
    }
  };

  for (const table of ['departments', 'roles', 'user_groups']) {
    await knex.schema.createTable(table, (t) => {
      mysqlTable(t);
      t.bigIncrements('id').primary();
      t.string('name', KEY).notNullable().comment('display name as first written');
      keyColumn(t, 'name_key').unique().comment('lower-cased, space-collapsed, NFC: the matching key');
      t.string('created_at', TIME).notNullable();
    });
  }

  await knex.schema.createTable('users', (t) => {
    mysqlTable(t);
    t.bigIncrements('id').primary();
    keyColumn(t, 'username').unique().comment('normalised: trimmed, NFC, lower-cased');
    t.string('name', 255).nullable();
    t.string('email', 320).nullable();
    t.string('phone', 64).nullable();
    t.bigInteger('department_id').unsigned().nullable().references('id').inTable('departments').onDelete('RESTRICT');
    t.boolean('active').notNullable().defaultTo(true);
    t.boolean('ignore_mfa').notNullable().defaultTo(false);
    t.string('password_hash', 255).nullable().comment('argon2id PHC string');
    t.string('password_updated_at', TIME).nullable();
    t.string('created_at', TIME).notNullable();
    t.string('updated_at', TIME).notNullable();
    t.bigInteger('last_import_id').unsigned().nullable();
  });

  await knex.schema.createTable('user_roles', (t) => {
    mysqlTable(t);
    t.bigInteger('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.bigInteger('role_id').unsigned().notNullable().references('id').inTable('roles').onDelete('RESTRICT');
    t.primary(['user_id', 'role_id']);
    t.index(['role_id']);
  });

  await knex.schema.createTable('user_group_members', (t) => {
    mysqlTable(t);
    t.bigInteger('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.bigInteger('group_id').unsigned().notNullable().references('id').inTable('user_groups').onDelete('RESTRICT');
    t.primary(['user_id', 'group_id']);
    t.index(['group_id']);
  });

  await knex.schema.createTable('imports', (t) => {
    mysqlTable(t);
    t.bigIncrements('id').primary();
    t.string('original_name', 255).notNullable();
    t.string('sha256', 64).notNullable();
    t.bigInteger('bytes').notNullable();
    t.string('source', 16).notNullable().comment('cli | watch | schedule | recover');
    t.string('host', 255).notNullable();
    t.string('status', 32)
      .notNullable()
      .comment('running | imported | imported_with_errors | rejected | interrupted | failed');
    t.boolean('dry_run').notNullable().defaultTo(false);
    t.integer('rows').notNullable().defaultTo(0);
    t.integer('created').notNullable().defaultTo(0);
    t.integer('updated').notNullable().defaultTo(0);
    t.integer('unchanged').notNullable().defaultTo(0);
    t.integer('failed').notNullable().defaultTo(0);
    t.string('started_at', TIME).notNullable();
    t.string('finished_at', TIME).nullable();
    t.string('file_path', 1024)
      .nullable()
      .comment('where the file is now (processing/, archive/, error/, or the CLI path)');
    t.string('report_json_path', 1024).nullable();
    t.string('report_xlsx_path', 1024).nullable();
    t.string('archived_sha256', 64).nullable().comment('sha256 of the archived copy when it is a redacted rewrite');
    t.boolean('redacted').notNullable().defaultTo(false);
    t.string('error_code', 64).nullable();
    t.text('error_message').nullable();
    t.bigInteger('superseded_by').unsigned().nullable().comment('the import that re-ran an interrupted one');
    t.index(['sha256']);
    t.index(['status']);
  });

  await knex.schema.createTable('audit_events', (t) => {
    mysqlTable(t);
    t.bigIncrements('id').primary();
    t.string('at', TIME).notNullable();
    t.bigInteger('import_id').unsigned().nullable();
    t.integer('row').nullable();
    t.string('username', KEY).nullable();
    t.string('action', 64).notNullable();
    t.text('changes').nullable().comment('JSON: {field: {old, new}}; the password only as {changed: true}');
    t.index(['username']);
    t.index(['import_id']);
    t.index(['at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'audit_events',
    'imports',
    'user_group_members',
    'user_roles',
    'users',
    'user_groups',
    'roles',
    'departments',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
