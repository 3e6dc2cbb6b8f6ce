/**
 * Brings the schema up to date. Safe to run at every start: a second run applies nothing.
 */
import { UsersyncError, fail } from '../errors.js';
import { mapDatabaseError, withDatabaseErrors } from './errors.js';
import type { Database } from './knex.js';
import { migrationSource } from './migrations/index.js';

export interface MigrationResult {
  /** Migrations applied by this run (empty when the schema was already current). */
  applied: string[];
}

/**
 * `create: false` (commands that only read): a database without usersync's tables is DB_NOT_FOUND
 * rather than set up — such a command never creates a schema. Pending migrations of an existing
 * usersync database are still applied (the daemon does the same at start): its tables must be
 * current to be read.
 */
export async function migrateToLatest(db: Database, options: { create?: boolean } = {}): Promise<MigrationResult> {
  if (
    options.create === false &&
    !(await withDatabaseErrors(db.location, () => db.knex.schema.hasTable('knex_migrations')))
  ) {
    throw fail('DB_NOT_FOUND', {
      message: `The database ${db.description} (database.url) holds no usersync tables; set USERSYNC_DATABASE_URL (or database.url) to the usersync database, or run \`usersync migrate\` to set this one up.`,
      details: { location: db.location },
    });
  }
  try {
    const [, applied] = (await db.knex.migrate.latest({ migrationSource, tableName: 'knex_migrations' })) as [
      number,
      string[],
    ];
    return { applied };
  } catch (error) {
    const mapped = mapDatabaseError(error, db.location);
    if (mapped.kind === 'transient' || mapped.code !== 'DB_QUERY_FAILED') throw mapped;
    throw fail('DB_MIGRATION_FAILED', {
      message: `Migrating ${db.description} failed: ${mapped.message}`,
      cause: error,
    });
  }
}

/** True when the error means "try again later" rather than "this is broken". */
export const isTransient = (error: unknown): boolean => error instanceof UsersyncError && error.kind === 'transient';
