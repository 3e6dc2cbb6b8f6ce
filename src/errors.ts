/**
 * The error classes, the exit codes, and how errors are described in logs. The registry of codes
 * (kinds, messages, help lines) is error-codes.ts; its names are re-exported here so that every
 * caller imports errors from this one module.
 *
 * An error's kind decides its fate (STYLE.md "Errors"): `row` errors are reported and the other
 * rows go on; `file` errors send the file to error/ without a retry; `transient` ones are retried
 * with backoff; `usage` (exit 2) and `operational` (exit 3) are for the command line.
 */
import { ERROR_CODES, type ErrorCode, type ErrorKind } from './error-codes.js';

export { ERROR_CODES, type ErrorCode, type ErrorKind } from './error-codes.js';

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
/** SPEC §3, and §9's 4: held for approval, nothing written. */
export const EXIT = { ok: 0, rowsFailed: 1, rejected: 2, operational: 3, held: 4 } as const;

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
