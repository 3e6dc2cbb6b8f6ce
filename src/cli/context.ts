/**
 * What every command gets: the frozen config, a logger, a lazily opened (and migrated) database,
 * stdout — and one `close()` that releases them in order and flushes the logs.
 *
 * A command that only reads (`readOnly`) leaves nothing behind where it runs: a missing database
 * is DB_NOT_FOUND naming where it was looked for (never created, nor its folder, nor its tables),
 * and usersync.log is written only when the log folder already exists.
 */
import { existsSync } from 'node:fs';
import { loadConfig, type Config } from '../config/index.js';
import { exposedSecretFiles } from '../config/secret-files.js';
import { describeError } from '../errors.js';
import { withDatabaseErrors } from '../db/errors.js';
import { createDatabase, type Database } from '../db/knex.js';
import { migrateToLatest } from '../db/migrate.js';
import { openAuditLog, type AuditLog } from '../logging/audit-log.js';
import { closeLogger, createLogger, type Logger, type LogLevel } from '../logging/logger.js';
import { createOutput, type Output } from './output.js';

export interface GlobalArgs {
  config?: string | undefined;
  logLevel?: LogLevel | undefined;
}

export interface CommandContext {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly out: Output;
  /** Opens the database and applies pending migrations on first use. */
  database(): Promise<Database>;
  /** The audit log file's logger, opened on first use and flushed at the end. */
  auditLog(): AuditLog;
  /** Exit code the command asks for (0 unless it says otherwise). */
  exitCode: number;
}

export interface ContextOptions {
  /** The daemon shows info on the terminal; one-shot commands only warnings unless --log-level says otherwise. */
  consoleLevel?: LogLevel;
  /** The command only reads: it creates no database, database folder, schema or log folder. */
  readOnly?: boolean;
}

export async function withContext(
  args: GlobalArgs,
  options: ContextOptions,
  run: (context: CommandContext) => Promise<void>,
): Promise<number> {
  const overrides = args.logLevel ? { logs: { level: args.logLevel } } : undefined;
  const config = loadConfig({ configFile: args.config, overrides });
  const create = options.readOnly !== true;
  const logger = createLogger(config.logs, {
    consoleLevel: args.logLevel ?? options.consoleLevel ?? 'warn',
    files: create || existsSync(config.logs.dir),
  });
  for (const { file, mode, keys } of exposedSecretFiles({ configFile: args.config })) {
    logger.warn('config.file_readable_by_others', {
      file,
      mode,
      secrets: keys,
      hint: `other local accounts can read the secrets in it; run: chmod 600 ${file}`,
    });
  }
  let db: Database | undefined;
  let audit: AuditLog | undefined;
  let opening: Promise<Database> | undefined;
  const context: CommandContext = {
    config,
    logger,
    out: createOutput(),
    exitCode: 0,
    auditLog: () =>
      (audit ??= openAuditLog(config.logs, (error) =>
        logger.error('audit_log.write_failed', { err: describeError(error) }),
      )),
    database: () => {
      opening ??= (async () => {
        db = createDatabase(config, logger, { create });
        const opened = db;
        const { applied } = await withDatabaseErrors(opened.location, () => migrateToLatest(opened, { create }));
        if (applied.length > 0) logger.info('db.migrated', { applied, database: opened.description });
        return opened;
      })();
      return opening;
    },
  };
  let failed = false;
  try {
    await run(context);
    return context.exitCode;
  } catch (error) {
    failed = true;
    // The root prints the message for the person; the log file keeps the details.
    logger.error('command.failed', { fileOnly: true, err: describeError(error) });
    throw error;
  } finally {
    await db?.destroy().catch(() => undefined);
    // Audit-log lines lost (already logged): the command fails, unless it failed already.
    const auditLost = await audit?.close().then(
      () => undefined,
      (error: unknown) => error,
    );
    await closeLogger(logger);
    if (auditLost !== undefined && !failed) throw auditLost;
  }
}
