/**
 * The audit log file (SPEC §6): one JSON line per audit event, appended to logs.dir/audit.log,
 * owner-only. It is a plain append file (io/append-file.ts) rather than a winston logger: an import
 * writes one line per changed user, and winston's per-line stream machinery cost ~10 µs a line (a
 * 100k-row first load spent a second flushing it at exit). Lines are written in the order they are
 * appended.
 */
import type { Config } from '../config/schema.js';
import { fail, type UsersyncError } from '../errors.js';
import { AppendFile } from '../io/append-file.js';
import { LOG_FILE_MODE, appendableLogFile } from './log-file.js';

export interface AuditLog {
  /** Appends lines already serialised (one JSON object each, without the newline; pipeline/audit.ts makes them). */
  appendLines(lines: readonly string[]): void;
  /** Resolves when every appended line is written and the file closed; rejects if any line was lost. */
  close(): Promise<void>;
}

/**
 * A write that fails (the disk full, the file system gone read-only) loses the lines then queued —
 * the events themselves are in `audit_events` — and is reported through `onWriteFailure` at the next
 * append or at close; the next lines go to the file opened afresh, so the log resumes once the disk
 * recovers instead of staying silent for the rest of a daemon's life. `close()` then rejects with
 * FS_IO_FAILED, so a command whose audit log lost lines does not exit 0.
 */
export function openAuditLog(
  settings: Pick<Config['logs'], 'dir'>,
  onWriteFailure: (error: UsersyncError) => void = () => undefined,
): AuditLog {
  const filePath = appendableLogFile(settings.dir, 'audit.log');
  const openFile = () => new AppendFile(filePath, { flags: 'a', mode: LOG_FILE_MODE });
  let file = openFile();
  let lost: UsersyncError | undefined;
  let closing: Promise<void> | undefined;
  /**
   * The file to append to: a fresh one if the last failed, that failure reported first — unless
   * the disk is still refusing everything (a fresh file that failed before writing a byte), which
   * would repeat the report for every batch.
   */
  const current = (): AppendFile => {
    if (file.error !== undefined) {
      reportFailure(file);
      void file.close();
      file = openFile();
    }
    return file;
  };
  const reportFailure = ({ error, bytesWritten }: AppendFile) => {
    if (error === undefined || (lost !== undefined && bytesWritten === 0)) return;
    lost = fail('FS_IO_FAILED', {
      message: `Lines of the audit log ${filePath} could not be written (${(error as NodeJS.ErrnoException).code ?? error.message}); the events themselves are in the database: \`usersync audit\` reads them.`,
      cause: error,
    });
    onWriteFailure(lost);
  };
  return {
    appendLines(lines) {
      if (closing) return;
      const target = current();
      for (const line of lines) target.writeLine(line);
    },
    close() {
      closing ??= file.close().then(() => {
        reportFailure(file);
        if (lost !== undefined) throw lost;
      });
      return closing;
    },
  };
}
