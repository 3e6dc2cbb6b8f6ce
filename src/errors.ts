/**
 * The error classes and the ONE registry of stable codes.
 *
 * Three kinds decide an error's fate (STYLE.md "Errors"):
 * - `row`: returned as data, reported, the other rows go on;
 * - `file`: never retried, the file goes to error/ with a report;
 * - `transient`: retried with backoff, the file stays claimed.
 * Two more kinds exist for the command line only: `usage` (bad flags or config, exit 2) and
 * `operational` (the environment failed us and retrying will not help by itself, exit 3).
 *
 * Every code has a message a person can act on and a `help` line; the README lists them all and
 * test/unit/errors.test.ts checks that it does.
 */

export type ErrorKind = 'row' | 'file' | 'transient' | 'usage' | 'operational';

interface CodeInfo {
  readonly kind: ErrorKind;
  /** Default message when the thrower has nothing more specific to say. */
  readonly message: string;
  /** What to do about it. */
  readonly help: string;
}

const define = <T extends Record<string, CodeInfo>>(codes: T): T => codes;

export const ERROR_CODES = define({
  // ── configuration and usage ─────────────────────────────────────────────────────────────
  CONFIG_INVALID: {
    kind: 'usage',
    message: 'The configuration is invalid.',
    help: 'Fix the named key in config/local.json, the --config file or the USERSYNC_* variable, then start again.',
  },
  CONFIG_FILE_UNREADABLE: {
    kind: 'usage',
    message: 'A configuration file could not be read or is not valid JSON.',
    help: 'Check the path given to --config (or config/local.json) and that the file is valid JSON.',
  },
  USAGE_INVALID: {
    kind: 'usage',
    message: 'The command line is not valid.',
    help: 'Run `usersync --help` (or `usersync <command> --help`) to see the accepted commands and options.',
  },
  CATALOG_IN_USE: {
    kind: 'usage',
    message: 'The role or group is still held by users.',
    help: 'Remove it from those users first (import a file with their new Roles / User group), then remove it.',
  },
  CATALOG_CONFIGURED: {
    kind: 'usage',
    message: 'The role or group is in the configured catalogue, which creates it again.',
    help: 'Take the name out of catalog.roles / catalog.groups (config/local.json or your --config file), then remove it.',
  },
  CATALOG_INVALID_NAME: {
    kind: 'usage',
    message: 'A role, group or department name is empty or too long.',
    help: 'Use a name of 1 to 191 characters.',
  },
  USER_NOT_FOUND: {
    kind: 'usage',
    message: 'No user has that username.',
    help: 'Run `usersync users list` to see the usernames the directory holds.',
  },
  IMPORT_NOT_FOUND: {
    kind: 'usage',
    message: 'No import has that id.',
    help: 'Run `usersync imports list` to see the import register.',
  },
  OUTPUT_EXISTS: {
    kind: 'usage',
    message: 'The file to write already exists.',
    help: 'Pass --force to replace it, or --out to write another file.',
  },
  DAEMON_ALREADY_RUNNING: {
    kind: 'operational',
    message: 'Another usersync daemon already watches these folders.',
    help: 'Stop the other daemon first, or give this one its own folders (folders.* in config).',
  },
  SCHEDULE_INVALID: {
    kind: 'usage',
    message: 'A cron expression or time zone in schedule.* is not valid.',
    help: 'Use a node-cron expression of 5 or 6 fields (e.g. "*/5 * * * *") and an IANA time zone (e.g. "UTC").',
  },

  // ── the database ────────────────────────────────────────────────────────────────────────
  DB_UNAVAILABLE: {
    kind: 'transient',
    message: 'The database cannot be reached.',
    help: 'Check that the database server is running and reachable at the host and port named, then try again.',
  },
  DB_BUSY: {
    kind: 'transient',
    message: 'The database is busy (lock timeout, deadlock or SQLITE_BUSY).',
    help: 'Another writer holds the lock; the operation is retried. If it persists, look for a stuck process.',
  },
  DB_CONFLICT: {
    kind: 'transient',
    message: 'Another writer added the same user, role or group at the same moment (a unique key).',
    help: 'What the import wrote since its last commit was rolled back; the daemon retries the file (a one-shot import exits 3: run it again), and the retry finds the row. If it persists, look for two processes importing the same users at once.',
  },
  DB_ACCESS_DENIED: {
    kind: 'operational',
    message: 'The database refused the credentials.',
    help: 'Check the user and password in database.url (USERSYNC_DATABASE_URL) and the grants of that user.',
  },
  DB_UNKNOWN_DATABASE: {
    kind: 'operational',
    message: 'The database named in database.url does not exist.',
    help: 'Create it (CREATE DATABASE … CHARACTER SET utf8mb4) or fix the name in database.url.',
  },
  DB_NOT_FOUND: {
    kind: 'usage',
    message: 'There is no usersync database where database.url points.',
    help: 'A relative sqlite: path is read from the working directory. Commands that only read never create a database; `usersync migrate` or `usersync start` creates one.',
  },
  DB_URL_INVALID: {
    kind: 'usage',
    message: 'database.url is not a supported database URL.',
    help: 'Use sqlite:PATH (for example sqlite:./data/usersync.sqlite) or mysql://user:pass@host:3306/db.',
  },
  DB_MIGRATION_FAILED: {
    kind: 'operational',
    message: 'The database schema could not be brought up to date.',
    help: 'Read the cause in the log; the database may have been changed by hand or by a newer usersync.',
  },
  DB_QUERY_FAILED: {
    kind: 'operational',
    message: 'A database statement failed.',
    help: 'Read the cause in the log (usersync.log); this is a bug or a schema change made by hand.',
  },

  // ── files and folders ───────────────────────────────────────────────────────────────────
  FS_IO_FAILED: {
    kind: 'operational',
    message: 'A file or folder could not be read or written.',
    help: 'Check that the path exists, that usersync may read and write it, and that the disk is not full.',
  },
  IMPORT_INTERRUPTED: {
    kind: 'transient',
    message: 'The import was stopped (shutdown) before the end of the file.',
    help: 'The file stays in processing/ and is imported again at the next start; rows already written are found unchanged.',
  },
  FS_MOVE_FAILED: {
    kind: 'transient',
    message: 'A file could not be moved to its target folder.',
    help: 'Check free space and permissions of the folder the message names (the inbox, processing/, archive/ or error/); the move is retried.',
  },
  FILE_CHANGED_DURING_IMPORT: {
    kind: 'transient',
    message: 'The file changed while it was being imported: it was still being written.',
    help: 'Nothing to do: that import is closed as interrupted (the rows it wrote are kept) and the whole file is imported again once it has stopped changing. Senders should write under a temporary name (.tmp, .part) and rename the file when done.',
  },
  INBOX_ENTRY_REFUSED: {
    kind: 'file',
    message: 'An inbox entry is not a regular file with a single name (a symbolic link, a hard link, a FIFO, a device or a socket), so it is never read, moved or imported.',
    help: 'Put the file itself in the inbox (cp, not ln or ln -s), and remove the refused entry once you have looked at where it came from.',
  },
  FILE_SYMLINK: {
    kind: 'file',
    message: 'The path is a symbolic link; usersync imports a link only when told to.',
    help: 'Name the file itself, or pass --follow-symlinks if you trust where the link points.',
  },
  FILE_NOT_FOUND: {
    kind: 'file',
    message: 'The file does not exist or is not a regular file.',
    help: 'Check the path; pass a .xlsx, .xlsm or .csv file.',
  },
  FILE_EMPTY: {
    kind: 'file',
    message: 'The file is empty (0 bytes).',
    help: 'The export or copy probably failed; export the user list again and drop the new file in.',
  },
  FILE_TOO_LARGE: {
    kind: 'file',
    message: 'The file is larger than import.maxFileBytes.',
    help: 'Split the list into several files, or raise import.maxFileBytes if the machine can take it.',
  },
  FILE_LEGACY_XLS: {
    kind: 'file',
    message: 'This is a legacy .xls workbook (Excel 97-2003), which usersync does not read.',
    help: 'Open it in Excel or LibreOffice, save it as "Excel Workbook (.xlsx)", and drop the .xlsx in.',
  },
  FILE_XLSB: {
    kind: 'file',
    message: 'This is a binary .xlsb workbook, which usersync does not read.',
    help: 'Open it in Excel, save it as "Excel Workbook (.xlsx)", and drop the .xlsx in.',
  },
  FILE_ODS: {
    kind: 'file',
    message: 'This is an OpenDocument spreadsheet (.ods), which usersync does not read.',
    help: 'Open it in LibreOffice, save it as "Excel 2007-365 (.xlsx)", and drop the .xlsx in.',
  },
  FILE_NUMBERS: {
    kind: 'file',
    message: 'This is an Apple Numbers document, which usersync does not read.',
    help: 'In Numbers choose File > Export To > Excel, and drop the .xlsx in.',
  },
  FILE_ENCRYPTED: {
    kind: 'file',
    message: 'This workbook is password-protected (encrypted), so it cannot be read.',
    help: 'Open it, remove the password (File > Info > Protect Workbook), save it as .xlsx and drop it in again.',
  },
  FILE_NOT_SPREADSHEET: {
    kind: 'file',
    message: 'This file is not a spreadsheet usersync can read.',
    help: 'Drop in the user list as .xlsx (or .csv); use `usersync template` to get the expected layout.',
  },
  FILE_CORRUPT: {
    kind: 'file',
    message: 'The workbook is damaged or incomplete (the zip structure is broken or truncated).',
    help: 'Copy or export the file again; if it opens in Excel, save it again as .xlsx and drop it in.',
  },
  FILE_ZIP_BOMB: {
    kind: 'file',
    message: 'The workbook declares far more uncompressed data than a user list needs.',
    help: 'Check where the file came from; if it is genuine, split it or raise import.maxUncompressedBytes.',
  },
  FILE_UNSUPPORTED_LAYOUT: {
    kind: 'file',
    message: 'The workbook was written by a program whose layout usersync cannot read.',
    help: 'Open it in Excel or LibreOffice and save it again as .xlsx, then drop it in.',
  },
  FILE_PARSE_FAILED: {
    kind: 'file',
    message: 'The workbook could not be read.',
    help: 'Open it in Excel or LibreOffice and save it again as .xlsx; if that does not help, report the file.',
  },
  FILE_PARSE_TIMEOUT: {
    kind: 'file',
    message: 'Reading the workbook took longer than import.parseTimeoutMs.',
    help: 'Split the file, or raise import.parseTimeoutMs if the file is genuinely that large.',
  },
  FILE_PARSE_OUT_OF_MEMORY: {
    kind: 'file',
    message: 'Reading the workbook needed more memory than import.workerMemoryMb allows.',
    help: 'Remove formatting, images and unused sheets and save again, or split the file.',
  },
  FILE_NO_HEADER: {
    kind: 'file',
    message: 'No sheet has a header row with a Username column in its first 10 rows.',
    help: 'Put the column names (Name, Username, …) in the first row; `usersync template` writes the expected layout.',
  },
  FILE_NO_USERNAME_COLUMN: {
    kind: 'file',
    message: 'The header row has no Username column.',
    help: 'Add a column named Username (or Usuário, or an alias from import.headerAliases).',
  },
  FILE_NO_NAME_COLUMN: {
    kind: 'file',
    message: 'The header row has no Name column.',
    help: 'Add a column named Name (or Nome, or an alias from import.headerAliases).',
  },
  FILE_DUPLICATE_COLUMN: {
    kind: 'file',
    message: 'The same column appears twice in the header row.',
    help: 'Delete or rename one of the two columns so each column appears once.',
  },
  FILE_NO_DATA_ROWS: {
    kind: 'file',
    message: 'The file has a header row but no data rows.',
    help: 'An empty HR export usually means the export failed upstream; export the list again.',
  },
  FILE_REPORT_NO_FAILED_ROWS: {
    kind: 'file',
    message: 'This is a usersync report without a Failed rows sheet, so it holds no rows to import.',
    help: 'Only the Failed rows sheet of a report is imported. To import the users again, drop in the user list itself (`usersync imports recover ID` gives an archived one back).',
  },
  FILE_TOO_MANY_ROWS: {
    kind: 'file',
    message: 'The file has more rows than import.maxRows.',
    help: 'Split the list into several files, or raise import.maxRows.',
  },
  FILE_ROWS_FAILED_ATOMIC: {
    kind: 'file',
    message: 'Some rows failed and import.atomic is on, so nothing in the file was applied.',
    help: 'Fix the rows listed in the report (its Failed rows sheet), then drop the whole file in again.',
  },

  // ── rows ────────────────────────────────────────────────────────────────────────────────
  ROW_USERNAME_MISSING: {
    kind: 'row',
    message: 'The Username cell is empty.',
    help: 'Fill in the Username; it decides whether the user is created or updated.',
  },
  ROW_USERNAME_INVALID: {
    kind: 'row',
    message: 'The username has characters or a length that import.usernamePattern does not allow.',
    help: 'Use 1–64 letters, digits and . _ @ - (or change import.usernamePattern).',
  },
  ROW_DUPLICATE_USERNAME: {
    kind: 'row',
    message: 'The username appears earlier in the same file.',
    help: 'Keep one row per user; merge the two rows.',
  },
  ROW_NAME_MISSING: {
    kind: 'row',
    message: 'A new user needs a Name.',
    help: 'Fill in the Name cell for this new user.',
  },
  ROW_INVALID_EMAIL: {
    kind: 'row',
    message: 'The e-mail address is not valid.',
    help: 'Write the address as name@example.com, or leave the cell blank to keep the stored one.',
  },
  ROW_INVALID_YES_NO: {
    kind: 'row',
    message: 'A Yes/No cell has another value.',
    help: 'Write Yes or No (also Y/N, True/False, 1/0, Sim/Não), or leave it blank to keep the stored value.',
  },
  ROW_PASSWORD_TOO_SHORT: {
    kind: 'row',
    message: 'The password is shorter than import.passwordMinLength.',
    help: 'Use a longer password, or leave the cell blank to keep the current one.',
  },
  ROW_UNKNOWN_ROLE: {
    kind: 'row',
    message: 'The row names roles that do not exist.',
    help: 'Create them with `usersync roles add <name..>` (or catalog.roles in config), or fix the spelling.',
  },
  ROW_UNKNOWN_GROUP: {
    kind: 'row',
    message: 'The row names user groups that do not exist.',
    help: 'Create them with `usersync groups add <name..>`, set import.createMissingGroups, or fix the spelling.',
  },
  ROW_CELL_ERROR: {
    kind: 'row',
    message: 'A cell holds a spreadsheet error (such as #N/A) or a formula without a saved result.',
    help: 'Fix the formula in the spreadsheet (or paste the values), save, and drop the file in again.',
  },
  ROW_VALUE_TOO_LONG: {
    kind: 'row',
    message: 'A cell is longer than the column allows.',
    help: 'Shorten the value; see the README for each column’s limit.',
  },
  ROW_INVALID_VALUE: {
    kind: 'row',
    message: 'A cell holds a value that is not allowed.',
    help: 'Remove control characters and check the value against the column’s rule in the README.',
  },
  ROW_CANNOT_CLEAR: {
    kind: 'row',
    message: 'The clear marker is in a column that cannot be emptied.',
    help: 'Only E-mail, Phone, Department, Roles and User group can be cleared (import.clearMarker); leave other cells blank to keep the stored value.',
  },
});

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorOptions {
  /** A more specific message than the registry default. Must never contain a password. */
  message?: string;
  cause?: unknown;
  /** Structured, non-secret details (a host, a count); shown in --json output and logs. */
  details?: Record<string, unknown>;
}

/** Base class: every error usersync raises on purpose carries a registered code. */
export class UsersyncError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly help: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: ErrorOptions = {}) {
    const info = ERROR_CODES[code];
    super(options.message ?? info.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = info.kind;
    this.help = info.help;
    this.details = options.details;
  }

  /** The JSON shape used in reports and `--json` output. */
  toJSON(): { code: ErrorCode; message: string; help: string } {
    return { code: this.code, message: this.message, help: this.help };
  }
}

/** A row's own problem: reported, the other rows go on. */
export class RowError extends UsersyncError {}
/** The file's own problem: never retried, the file goes to error/. */
export class FileError extends UsersyncError {}
/** Not the file's fault: retried with backoff, the file stays claimed. */
export class TransientError extends UsersyncError {}
/** Bad command line or configuration. */
export class UsageError extends UsersyncError {}
/** The environment failed (I/O, credentials, schema). */
export class OperationalError extends UsersyncError {}

const classByKind = {
  row: RowError,
  file: FileError,
  transient: TransientError,
  usage: UsageError,
  operational: OperationalError,
} as const satisfies Record<ErrorKind, typeof UsersyncError>;

/** Builds the error of the right class for a code: `throw fail('FILE_LEGACY_XLS')`. */
export function fail(code: ErrorCode, options: ErrorOptions = {}): UsersyncError {
  const ErrorClass = classByKind[ERROR_CODES[code].kind];
  return new ErrorClass(code, options);
}

/** Exit codes of SPEC §3: 0 all rows applied; 1 some rows failed; 2 rejected/usage; 3 operational. */
export const EXIT = { ok: 0, rowsFailed: 1, rejected: 2, operational: 3 } as const;

/** Maps any thrown value to the exit code of SPEC §3. Unknown errors are operational faults. */
export function exitCodeFor(error: unknown): number {
  if (!(error instanceof UsersyncError)) return EXIT.operational;
  switch (error.kind) {
    case 'row':
      return EXIT.rowsFailed;
    case 'file':
    case 'usage':
      return EXIT.rejected;
    case 'transient':
    case 'operational':
      return EXIT.operational;
  }
}

/**
 * Serialises an error for a log line without its own enumerable properties (mysql2 puts the
 * full SQL, with every bound value, in `err.sql` and `err.message`: PITFALLS §4.5, §7.3).
 */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof UsersyncError) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      details: error.details,
      cause: error.cause === undefined ? undefined : describeCause(error.cause),
      stack: error.stack,
    };
  }
  return describeCause(error);
}

function describeCause(cause: unknown): Record<string, unknown> {
  if (cause instanceof UsersyncError) return describeError(cause);
  if (cause instanceof Error) {
    const e = cause as Error & { code?: unknown; errno?: unknown; sqlState?: unknown };
    return {
      name: e.name,
      code: e.code,
      errno: e.errno,
      sqlState: e.sqlState,
      message: safeDriverMessage(e.message),
    };
  }
  return { message: String(cause).slice(0, 300) };
}

/**
 * knex prefixes driver errors with the whole statement and its bound values
 * (`insert into users … - Duplicate entry …`); keep only the driver's own words, one line, capped.
 */
export function safeDriverMessage(message: string): string {
  let text = message;
  if (/^\s*(insert|update|select|delete|with|replace|create|alter|drop)\s/i.test(text)) {
    const cut = text.lastIndexOf(' - ');
    text = cut >= 0 ? text.slice(cut + 3) : '(statement failed)';
  }
  return (text.split('\n')[0] ?? '').slice(0, 300);
}
