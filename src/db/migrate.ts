/**
 * Brings the schema up to date. Safe to run at every start: a second run applies nothing.
 */
import { UsersyncError, fail } from '../errors.js';
import { mapDatabaseError } from './errors.js';
import type { Database } from './knex.js';
import { migrationSource } from './migrations/index.js';

export interface MigrationResult {
  /** Migrations applied by this run (empty when the schema was already current). */
  applied: string[];
}

export async function migrateToLatest(db: Database): Promise<MigrationResult> {
  try {
    const [, applied] = (await db.knex.migrate.latest({ migrationSource, tableName: 'knex_migrations' })) as [number, string[]];
    return { applied };
  } catch (error) {
    const mapped = mapDatabaseError(error, db.location);
    if (mapped.kind === 'transient' || mapped.code !== 'DB_QUERY_FAILED') throw mapped;
    throw fail('DB_MIGRATION_FAILED', { message: `Migrating ${db.description} failed: ${mapped.message}`, cause: error });
  }
}

/** True when the error means "try again later" rather than "this is broken". */
export const isTransient = (error: unknown): boolean => error instanceof UsersyncError && error.kind === 'transient';
