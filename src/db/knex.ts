/**
 * The ONE place where dialect options live (STYLE.md "Database").
 *
 * - SQLite (better-sqlite3): WAL, foreign keys, busy_timeout, exactly one connection — a second
 *   connection would only wait on the first one's lock (PITFALLS §4.9–4.11). (The import's WAL
 *   checkpointer has a connection of its own, on its own thread; it never opens a write
 *   transaction, so it never waits on that lock: wal-checkpointer.ts.)
 * - MySQL / MariaDB (mysql2): utf8mb4, UTC (`timezone: 'Z'`, PITFALLS §5.2), dates as strings,
 *   big numbers as strings, pool min 0 so dead idle connections are not kept (PITFALLS §5.1).
 */
import type { Knex } from 'knex';
import { requirePackage } from '../require-package.js';
import type { Config } from '../config/schema.js';
import { fail } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { SQL_CAPABILITIES, type Capabilities, type Dialect, type WriterThreadCapability } from './dialect.js';
import { AUTO_CHECKPOINT_PAGES, startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js';
import { MysqlWriter } from './mysql-writer.js';
import { prepareSqliteFile, sqliteFilesReadableByOthers } from './sqlite-file.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { ImportWriter } from './statement-writer.js';

const knex: typeof import('knex').knex = requirePackage('knex');

export { sqlCapabilities, type Capabilities, type Dialect, type WriterThreadCapability } from './dialect.js';

function capabilitiesOf(parsed: ParsedUrl, settings: Config['database']): Capabilities {
  const sqlite = parsed.dialect === 'sqlite';
  // SQLite's `:memory:` is private to its one connection: no thread can share it.
  const writerThread = sqlite ? (parsed.location === ':memory:' ? undefined : SQLITE_WRITER) : MYSQL_WRITER;
  return { ...SQL_CAPABILITIES[parsed.dialect], singleConnection: sqlite || settings.poolMax < 2, writerThread };
}

/** WriterThreadCapability.batchesInFlight on SQLite. */
export const SQLITE_BATCHES_IN_FLIGHT = 2;
const SQLITE_WRITER: WriterThreadCapability = {
  batchesInFlight: SQLITE_BATCHES_IN_FLIGHT,
  leanYoungGenerationMb: undefined,
};
const MYSQL_WRITER: WriterThreadCapability = { batchesInFlight: 1, leanYoungGenerationMb: 8 };

export interface Database {
  readonly knex: Knex;
  readonly dialect: Dialect;
  /** What this store can do; see Capabilities. */
  readonly capabilities: Capabilities;
  /** `sqlite:/abs/path` or `mysql://user:***@host:port/db` — safe to log. */
  readonly description: string;
  /** host:port for MySQL, the file for SQLite: named in "cannot reach" messages. */
  readonly location: string;
  /** Most rows one multi-row INSERT may carry (SQLite's compound-select limit is 500, PITFALLS §4.4). */
  readonly maxInsertRows: number;
  /** Most values one `where in (…)` may carry. */
  readonly maxInParams: number;
  /**
   * From now until `destroy()`, SQLite's WAL checkpoints run on a thread of their own
   * (wal-checkpointer.ts): for writers of many rows, the import. Once is enough; never throws
   * (without it the connection checkpoints itself, only slower); MySQL: nothing.
   */
  checkpointInBackground(): Promise<void>;
  /**
   * A connection of its own that writes on a thread of its own (sqlite-writer.ts,
   * mysql-writer.ts), for an import's batches; the caller closes it. Undefined for SQLite's
   * `:memory:`, where there is no file to share. `youngGenerationMb` caps the thread's young
   * generation (MySQL's; SQLite's thread is not used where memory is tight).
   */
  openWriter(options?: { youngGenerationMb?: number | undefined }): ImportWriter | undefined;
  destroy(): Promise<void>;
}

interface ParsedUrl {
  dialect: Dialect;
  config: Knex.Config;
  description: string;
  location: string;
}

export function parseDatabaseUrl(url: string, settings: Config['database']): ParsedUrl {
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length);
    if (!filename) throw fail('DB_URL_INVALID', { message: 'database.url "sqlite:" names no file.' });
    return {
      dialect: 'sqlite',
      description: `sqlite:${filename}`,
      location: filename,
      config: {
        client: 'better-sqlite3',
        connection: { filename },
        useNullAsDefault: true,
        acquireConnectionTimeout: settings.acquireTimeoutMs,
        pool: {
          min: 1,
          max: 1,
          afterCreate(connection: SqliteConnection, done: (error: Error | null, c: unknown) => void) {
            try {
              cachePreparedStatements(connection);
              connection.pragma('journal_mode = WAL');
              connection.pragma('foreign_keys = ON');
              connection.pragma(`busy_timeout = ${settings.busyTimeoutMs}`);
              connection.pragma('synchronous = NORMAL'); // safe with WAL: a crash loses no committed transaction
              done(null, connection);
            } catch (error) {
              done(error as Error, connection);
            }
          },
        },
      },
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('DB_URL_INVALID');
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw fail('DB_URL_INVALID', {
      message: `database.url uses "${parsed.protocol}", which usersync does not support.`,
    });
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database)
    throw fail('DB_URL_INVALID', { message: 'database.url names no database (mysql://user:pass@host:3306/DATABASE).' });
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port || 3306);
  const safe = new URL(url);
  if (safe.password) safe.password = '***';
  return {
    dialect: 'mysql',
    description: safe.toString(),
    location: `${host}:${port}`,
    config: {
      client: 'mysql2',
      connection: {
        host,
        port,
        user: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
        database,
        charset: 'utf8mb4',
        timezone: 'Z',
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        connectTimeout: settings.connectTimeoutMs,
        // Bulk inserts are prepared statements (db/bulk.ts); a batch's row count names its own,
        // so keep few per connection (the evicted are closed on the server): mysql2's default of
        // 16,000 per connection could reach the server's max_prepared_stmt_count (16,382 in all).
        maxPreparedStatements: 32,
      },
      acquireConnectionTimeout: settings.acquireTimeoutMs,
      pool: {
        min: 0,
        max: settings.poolMax,
        afterCreate(
          connection: { query(sql: string, cb: (error: Error | null) => void): void },
          done: (error: Error | null, c: unknown) => void,
        ) {
          connection.query(MYSQL_SESSION_SQL, (error) => done(error, connection));
        },
      },
    },
  };
}

/**
 * How every MySQL session begins: UTC and a strict mode, whatever the server's defaults are;
 * group_concat_max_len because stored-user look-ups concatenate role and group keys (bulk.ts).
 */
const MYSQL_SESSION_SQL =
  "SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES'), group_concat_max_len = 1048576";

interface SqliteConnection {
  pragma(sql: string): unknown;
  prepare(sql: string): unknown;
}

/**
 * knex's better-sqlite3 client prepares every statement anew; a 500-row insert is a large
 * statement, and preparing it again for every batch cost as much as running it (measured: 1.0 s of
 * a 100k-row import). Batches repeat the same SQL text, so prepared statements are kept by text.
 */
function cachePreparedStatements(connection: SqliteConnection, size = 64): void {
  const prepare = connection.prepare.bind(connection);
  const cache = new Map<string, unknown>();
  connection.prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = prepare(sql);
      cache.set(sql, statement);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
    } else {
      // Most recently used last, so the oldest is evicted first.
      cache.delete(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}

export interface OpenOptions {
  /**
   * False for commands that only read: a missing SQLite file is DB_NOT_FOUND and neither it nor
   * its folder is created. Default true: the folder (0700) and the file (0600) are made if missing.
   */
  create?: boolean;
}

/**
 * Opens the store named by `config.database.url`. Does not connect until the first query.
 * An existing SQLite file that other local accounts can read is reported, not changed.
 */
export function createDatabase(config: Pick<Config, 'database'>, logger: Logger, options: OpenOptions = {}): Database {
  const parsed = parseDatabaseUrl(config.database.url, config.database);
  const log = logger.child({ module: 'db' });
  if (parsed.dialect === 'sqlite' && parsed.location !== ':memory:') {
    for (const { file, mode } of sqliteFilesReadableByOthers(parsed.location)) {
      log.warn('db.file_readable_by_others', {
        file,
        mode,
        hint: `other local accounts can read the password hashes, e-mails and phones in it; run: chmod 600 ${file}`,
      });
    }
    prepareSqliteFile(parsed.location, options.create !== false);
  }
  const instance = knex({
    ...parsed.config,
    // knex otherwise prints "Connection Error" lines straight to the console (PITFALLS §5.1).
    log: {
      // fileOnly: the caller turns the failure into one clear message; the log keeps the driver's words.
      warn: (message: unknown) =>
        log.warn('knex.warn', { fileOnly: true, detail: String(message).split('\n')[0]?.slice(0, 300) }),
      error: (message: unknown) =>
        log.error('knex.error', { fileOnly: true, detail: String(message).split('\n')[0]?.slice(0, 300) }),
      debug: () => undefined,
      deprecate: (message: unknown) => log.debug('knex.deprecate', { detail: String(message) }),
    },
  });
  let checkpointer: Promise<WalCheckpointer | undefined> | undefined;
  const capabilities = capabilitiesOf(parsed, config.database);
  return {
    knex: instance,
    dialect: parsed.dialect,
    capabilities,
    description: parsed.description,
    location: parsed.location,
    maxInsertRows: parsed.dialect === 'sqlite' ? 500 : 1000,
    maxInParams: parsed.dialect === 'sqlite' ? 900 : 2000,
    async checkpointInBackground() {
      if (parsed.dialect !== 'sqlite' || parsed.location === ':memory:') return;
      checkpointer ??= (async () => {
        // The file exists and is in WAL mode once the connection is made; then hand the checkpoints over.
        await instance.raw(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
        return startWalCheckpointer(parsed.location, log);
      })().catch((error: unknown) => {
        // Only speed is lost: the connection checkpoints itself as before. The next import tries again.
        checkpointer = undefined;
        log.warn('db.checkpointer.failed', {
          err: { message: String((error as Error)?.message ?? error).slice(0, 300) },
        });
        return undefined;
      });
      await checkpointer;
    },
    openWriter(options = {}) {
      if (capabilities.writerThread === undefined) return undefined;
      if (parsed.dialect === 'mysql')
        return new MysqlWriter({
          connection: parsed.config.connection as Record<string, unknown>,
          sessionSql: MYSQL_SESSION_SQL,
          youngGenerationMb: options.youngGenerationMb,
        });
      return new SqliteWriter(parsed.location, {
        busyTimeoutMs: config.database.busyTimeoutMs,
        autoCheckpointPages: AUTO_CHECKPOINT_PAGES,
      });
    },
    async destroy() {
      // The checkpointer's connection closes first, so the last one to close (ours) folds the WAL in.
      await (await checkpointer)?.stop();
      await instance.destroy();
    },
  };
}
