/**
 * The audit log file (SPEC §6): one JSON line per audit event, appended to logs.dir/audit.log,
 * owner-only. It is a plain append stream rather than a winston logger: an import writes one line
 * per changed user, and winston's per-line stream machinery cost ~10 µs a line (a 100k-row first
 * load spent a second flushing it at exit). Lines are written in the order they are appended.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';

export interface AuditLog {
  /** Appends lines already serialised (one JSON object each, without the newline; pipeline/audit.ts makes them). */
  appendLines(lines: readonly string[]): void;
  /** Resolves when every appended line is written and the file closed. */
  close(): Promise<void>;
}

export function openAuditLog(settings: Pick<Config['logs'], 'dir'>): AuditLog {
  mkdirSync(settings.dir, { recursive: true, mode: 0o700 });
  const stream = createWriteStream(path.join(settings.dir, 'audit.log'), { flags: 'a', mode: 0o600 });
  let failure: Error | undefined;
  stream.on('error', (error) => (failure = error));
  let closing: Promise<void> | undefined;
  const appendLines = (lines: readonly string[]): void => {
    if (lines.length === 0 || closing) return;
    let text = '';
    for (const line of lines) text += `${line}\n`;
    stream.write(text);
  };
  return {
    appendLines,
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (failure || stream.destroyed) return resolve();
        stream.end(() => resolve());
      });
      return closing;
    },
  };
}
