/**
 * The audit log file (SPEC §6): one JSON line per audit event, appended to logs.dir/audit.log,
 * owner-only. It is a plain append file (io/append-file.ts) rather than a winston logger: an import
 * writes one line per changed user, and winston's per-line stream machinery cost ~10 µs a line (a
 * 100k-row first load spent a second flushing it at exit). Lines are written in the order they are
 * appended.
 */
import type { Config } from '../config/schema.js';
import { AppendFile } from '../io/append-file.js';
import { LOG_FILE_MODE, appendableLogFile } from './log-file.js';

export interface AuditLog {
  /** Appends lines already serialised (one JSON object each, without the newline; pipeline/audit.ts makes them). */
  appendLines(lines: readonly string[]): void;
  /**
   * Appends lines already encoded (UTF-8, each ending in a line break) without copying them: each
   * chunk goes to `release` once written (or dropped), and must not change until then.
   */
  appendBytes(chunks: readonly Uint8Array[], release: (chunk: Uint8Array) => void): void;
  /** Resolves when every appended line is written and the file closed. */
  close(): Promise<void>;
}

export function openAuditLog(settings: Pick<Config['logs'], 'dir'>): AuditLog {
  const file = new AppendFile(appendableLogFile(settings.dir, 'audit.log'), { flags: 'a', mode: LOG_FILE_MODE });
  let closing: Promise<void> | undefined;
  return {
    appendLines(lines) {
      if (closing) return;
      for (const line of lines) file.writeLine(line);
    },
    appendBytes(chunks, release) {
      if (closing) return chunks.forEach(release);
      file.writeChunks(chunks, release);
    },
    close() {
      closing ??= file.close();
      return closing;
    },
  };
}
