/**
 * What commands print on stdout: one JSON document with --json, aligned tables otherwise.
 * Logs go to stderr, so stdout stays parseable.
 */
import type { Writable } from 'node:stream';
import { printable } from '../domain/text-rules.js';

export interface Output {
  write(text: string): Promise<void>;
  json(value: unknown): Promise<void>;
  table(
    columns: readonly string[],
    rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null>>,
  ): Promise<void>;
  /** One JSON array, written element by element so a million items never become one string. */
  jsonArray(items: AsyncIterable<unknown>): Promise<void>;
}

export function createOutput(stream: Writable = process.stdout): Output {
  // Whoever read the output went away (`usersync users list | head`): the rest is dropped, and
  // the command ends as it would have — an import already applied is not reported as a fault.
  let readerGone = false;
  let failure: Error | undefined;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') readerGone = true;
    else failure ??= error;
  });
  const write = async (text: string) => {
    if (failure) throw failure;
    if (readerGone) return;
    if (!stream.write(text)) await drainedOrFailed(stream);
    if (failure) throw failure;
  };
  return {
    write,
    json: (value) => write(`${JSON.stringify(value, null, 2)}\n`),
    table: (columns, rows) => write(formatTable(columns, rows)),
    jsonArray: async (items) => {
      let first = true;
      await write('[');
      for await (const item of items) {
        await write(`${first ? '\n  ' : ',\n  '}${JSON.stringify(item)}`);
        first = false;
      }
      await write(first ? ']\n' : '\n]\n');
    },
  };
}

/** Resolves once the stream drains or fails (its 'error' listener above says which). */
function drainedOrFailed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
  });
}

/** A plain aligned text table; control characters shown as '?' so a cell cannot move the cursor. */
export function formatTable(
  columns: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null>>,
): string {
  const text = rows.map((row) => row.map((cell) => printable(cell === null ? '' : String(cell))));
  // Columns are capped at 60 characters so a long name cannot wreck the layout — except the last,
  // which has nothing to its right and is printed whole.
  const last = columns.length - 1;
  const widths = columns.map((column, i) => Math.max(column.length, ...text.map((row) => (row[i] ?? '').length)));
  const capped = widths.map((w, i) => (i === last ? w : Math.min(60, w)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) =>
        i !== last && cell.length > (capped[i] ?? 0)
          ? `${cell.slice(0, (capped[i] ?? 1) - 1)}…`
          : cell.padEnd(i === last ? 0 : (capped[i] ?? 0)),
      )
      .join('  ')
      .trimEnd();
  return [line(columns), line(capped.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n') + '\n';
}
