/**
 * The SQLite database file: created owner-only before SQLite opens it, or required to exist.
 *
 * Invariant: usersync creates the folder 0700 and the file 0600 (a stricter umask narrows both).
 * SQLite gives the -wal and -shm files it creates the database file's own mode, whichever
 * connection creates them (the import's writer thread and the WAL checkpointer open the file with
 * fileMustExist), so they are 0600 too. It holds every user's password hash, e-mail and phone.
 */
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { readableByOthers } from '../io/private-files.js';

/** The database and the files SQLite keeps beside it while it is open. */
const sqliteFiles = (file: string): string[] => [file, `${file}-wal`, `${file}-shm`];

/**
 * `create`: makes the folder (0700) and an empty file (0600) when missing — an empty file is an
 * empty SQLite database. Otherwise a missing file is DB_NOT_FOUND: commands that only read never
 * leave a new database (or its folder) behind in whatever folder they were run from.
 */
export function prepareSqliteFile(file: string, create: boolean): void {
  if (!create) {
    if (!existsSync(file)) throw noSqliteDatabase(file);
    return;
  }
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'wx', 0o600));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    throw fail('FS_IO_FAILED', {
      message: `Cannot create the SQLite database ${file} (${code ?? String(cause)}).`,
      cause,
    });
  }
}

function noSqliteDatabase(file: string) {
  return fail('DB_NOT_FOUND', {
    message: `No usersync database at ${file} (database.url); run usersync from the folder that holds it, or set USERSYNC_DATABASE_URL (or database.url) to it.`,
    details: { location: file },
  });
}

/** The database files other local accounts can read, with their modes. */
export function sqliteFilesReadableByOthers(file: string): Array<{ file: string; mode: string }> {
  return sqliteFiles(file).flatMap((f) => {
    const mode = readableByOthers(f);
    return mode === undefined ? [] : [{ file: f, mode }];
  });
}
