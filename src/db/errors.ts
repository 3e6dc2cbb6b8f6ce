/**
 * Maps driver errors (mysql2, better-sqlite3, knex/tarn) to the project's codes. This is the only
 * place that knows driver error shapes (STYLE.md "Errors"); the rest of the code sees
 * DB_UNAVAILABLE / DB_BUSY / … and decides retry or not from the error's kind.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UsersyncError, fail, safeDriverMessage } from '../errors.js';

interface DriverError {
  name?: string;
  code?: string | number;
  errno?: number;
  fatal?: boolean;
  message?: string;
}

// PITFALLS §5.4: retry the whole transaction for these.
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR', // 1040 too many connections
  'ER_SERVER_SHUTDOWN', // 1053
  'ER_CLIENT_INTERACTION_TIMEOUT', // 4031 MySQL 8 idle disconnect
]);
const BUSY_CODES = new Set([
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_LOCKED',
]);
const BUSY_ERRNOS = new Set([1205, 1213]);
/**
 * A unique key taken between an import's read and its insert: users are created with plain
 * inserts (apply/queue-change-set.ts), and departments, groups and roles are only ever added after a
 * look-up, so this is another writer's row, which a retry finds.
 */
const CONFLICT_CODES = new Set(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);
const UNREACHABLE_ERRNOS = new Set([1040, 1053, 2002, 2003, 2006, 2013, 4031]);

/**
 * Turns a thrown driver error into a UsersyncError naming `location` (host:port or file), never a
 * password or the failed statement's values. UsersyncErrors pass through unchanged.
 */
export function mapDatabaseError(error: unknown, location: string): UsersyncError {
  if (error instanceof UsersyncError) return error;
  const e = (error ?? {}) as DriverError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const detail = safeDriverMessage(e.message ?? String(error));

  if ((code && BUSY_CODES.has(code)) || (errno !== undefined && BUSY_ERRNOS.has(errno))) {
    return fail('DB_BUSY', {
      message: `The database at ${location} is busy: ${detail}`,
      cause: error,
      details: { location, code },
    });
  }
  if ((code && CONFLICT_CODES.has(code)) || errno === 1062) {
    return fail('DB_CONFLICT', {
      message: `Another writer added the same key at ${location} meanwhile: ${detail}`,
      cause: error,
      details: { location, code },
    });
  }
  if (
    (code && UNREACHABLE_CODES.has(code)) ||
    (errno !== undefined && UNREACHABLE_ERRNOS.has(errno)) ||
    e.name === 'KnexTimeoutError' ||
    // PITFALLS §5.4: a connection that dies inside a transaction surfaces with code undefined, fatal true.
    (e.fatal === true && code === undefined) ||
    /Can't add new command when connection is in closed state/.test(detail)
  ) {
    return fail('DB_UNAVAILABLE', {
      message: `Cannot reach the database at ${location} (${code ?? e.name ?? 'no answer'}).`,
      cause: error,
      details: { location, code },
    });
  }
  if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || errno === 1045 || errno === 1044) {
    return fail('DB_ACCESS_DENIED', {
      message: `The database at ${location} refused the user in database.url: ${detail}`,
      cause: error,
      details: { location },
    });
  }
  if (code === 'ER_BAD_DB_ERROR' || errno === 1049) {
    return fail('DB_UNKNOWN_DATABASE', {
      message: `The database at ${location} says: ${detail}`,
      cause: error,
      details: { location },
    });
  }
  if (code === 'ENOTFOUND') {
    return fail('DB_UNAVAILABLE', {
      message: `Cannot resolve the database host of ${location}.`,
      cause: error,
      details: { location, code },
    });
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_FULL' || code === 'SQLITE_IOERR') {
    return fail('FS_IO_FAILED', {
      message: `The SQLite database ${location} cannot be written: ${detail}`,
      cause: error,
      details: { location, code },
    });
  }
  return fail('DB_QUERY_FAILED', {
    message: `A database statement failed (${code ?? e.name ?? 'error'}): ${detail}`,
    cause: error,
    details: { location, code },
  });
}

/** Runs `work`, converting whatever the driver throws. */
export async function withDatabaseErrors<T>(location: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error, location);
  }
}

/** Tries of `withBusyRetries`: enough for several commands and an import meeting on one SQLite file. */
const BUSY_TRIES = 8;

/**
 * `withDatabaseErrors` for one short transaction of a command, tried again when another writer
 * held the lock or wrote first (DB_BUSY — on SQLite also a read snapshot older than another's
 * commit, which waits for nothing — or DB_CONFLICT): after a growing, jittered wait, so commands
 * that meet stop meeting. `work` must start afresh each time.
 */
export async function withBusyRetries<T>(location: string, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withDatabaseErrors(location, work);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== 'DB_BUSY' && code !== 'DB_CONFLICT') || attempt >= BUSY_TRIES) throw error;
      await sleep(Math.round(Math.random() * 50 * attempt));
    }
  }
}
