/**
 * Builds the real pipeline (real database, real files, real workers) for integration tests.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { commandLineActor } from '../../src/app/actor.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { addCatalogNames } from '../../src/db/repositories/catalog.js';
import { openAuditLog } from '../../src/logging/audit-log.js';
import { closeLogger, createLogger } from '../../src/logging/logger.js';
import { createAuditTrail } from '../../src/pipeline/audit.js';
import { createPasswordHasher } from '../../src/pipeline/passwords.js';
import { processFile, type ProcessRequest, type ProcessResult } from '../../src/pipeline/process-file.js';
import { fixtureDir } from '../fixtures/build.js';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestPipeline {
  config: Config;
  db: Database;
  /** What the pipeline runs with, for other entry points (a revert). */
  deps: Parameters<typeof processFile>[0];
  dir: string;
  run(file: string, request?: Partial<ProcessRequest>): Promise<ProcessResult>;
  /** The JSON report of a result. */
  report(result: ProcessResult): Record<string, unknown> & { rows: Array<Record<string, unknown>> };
  close(): Promise<void>;
}

export async function createTestPipeline(url: string, overrides: DeepPartial<Config> = {}): Promise<TestPipeline> {
  const dir = fixtureDir('usersync-pipe-');
  const base = configSchema.parse({
    ...overrides,
    database: { url, ...(overrides.database ?? {}) },
    logs: { dir: path.join(dir, 'logs'), console: 'off' },
    // Cheap argon2 parameters keep tests fast; the OWASP defaults are exercised by the bench.
    import: { ...(overrides.import ?? {}), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
  });
  const config = base as Config;
  const logger = createLogger(config.logs, { consoleLevel: 'error' });
  const auditLog = openAuditLog(config.logs);
  const db = createDatabase(config, logger);
  await migrateToLatest(db);
  await addCatalogNames(db.knex, 'roles', ['Administrator', 'Auditor', 'Operator', 'Viewer']);
  await addCatalogNames(db.knex, 'groups', ['Finance', 'HR', 'IT', 'Sales']);
  const deps = {
    config,
    db,
    logger,
    audit: createAuditTrail(auditLog, db),
    hasher: createPasswordHasher(config.import),
  };
  return {
    config,
    db,
    deps,
    dir,
    run: (file, request = {}) =>
      processFile(deps, {
        filePath: file,
        originalName: path.basename(file),
        source: 'cli',
        actor: commandLineActor(),
        dryRun: false,
        reportDir: path.dirname(file),
        ...request,
      }),
    report: (result) =>
      JSON.parse(readFileSync(result.reports.jsonPath, 'utf8')) as Record<string, unknown> & {
        rows: Array<Record<string, unknown>>;
      },
    close: async () => {
      await db.destroy();
      await auditLog.close();
      await closeLogger(logger);
    },
  };
}

/** Every row of the directory's tables, for "nothing was written" assertions. */
export async function snapshot(db: Database): Promise<Record<string, unknown[]>> {
  const order: Record<string, string[]> = {
    users: ['id'],
    departments: ['id'],
    roles: ['id'],
    user_groups: ['id'],
    user_roles: ['user_id', 'role_id'],
    user_group_members: ['user_id', 'group_id'],
  };
  const out: Record<string, unknown[]> = {};
  for (const [table, columns] of Object.entries(order)) out[table] = await db.knex(table).select('*').orderBy(columns);
  return out;
}

export async function userEvents(db: Database): Promise<number> {
  const [row] = (await db
    .knex('audit_events')
    .whereIn('action', ['user.created', 'user.updated'])
    .count({ n: '*' })) as Array<{ n: number | string }>;
  return Number(row?.n ?? 0);
}
