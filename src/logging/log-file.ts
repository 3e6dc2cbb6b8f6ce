/**
 * The log folder and a file in it, checked when a logger or the audit log opens: a folder that
 * cannot be created (a file in its place) or a file that cannot be appended to (a folder in its
 * place, no permission) stops the command at start with a message naming it. Before, the first
 * showed as an "unexpected error" with a stack, and the second lost every line silently — the
 * audit log's included — while the command went on and exited 0.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';

/** Log files are owner-only: they may carry usernames (personal data). */
export const LOG_FILE_MODE = 0o600;

const reason = (cause: unknown) => (cause as NodeJS.ErrnoException).code ?? String(cause);

/** Creates `dir` if missing and checks that `dir/name` can be appended to; returns its path. */
export function appendableLogFile(dir: string, name: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw fail('FS_IO_FAILED', {
      message: `Cannot create the log folder ${dir} (${reason(cause)}); set logs.dir or USERSYNC_LOG_DIR to a folder usersync may write.`,
      cause,
    });
  }
  const file = path.join(dir, name);
  try {
    closeSync(openSync(file, 'a', LOG_FILE_MODE));
  } catch (cause) {
    throw fail('FS_IO_FAILED', { message: `Cannot append to the log file ${file} (${reason(cause)}).`, cause });
  }
  return file;
}
