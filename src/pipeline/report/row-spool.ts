/**
 * Row results on their way to the reports. A 1,000,000-row import produces a million results;
 * keeping them as objects would cost hundreds of MB, so they are appended to files and read back
 * (in row order, as often as needed) when the reports are written.
 */
import { createReadStream, mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { AppendFile } from '../../io/append-file.js';
import { REPORT_FILE_MODE } from './atomic-file.js';
import { EXCEL_MAX_ROWS, unstyledRowXml } from './paged-sheet.js';
import {
  isDeactivation,
  isUnlistedFailure,
  newCounts,
  rowRecordJson,
  rowsSheetCells,
  tally,
  toFailedCells,
  toRowRecord,
} from './row-records.js';
import type { FailedRowCells, ReportCounts, RowFilter, RowResult } from './types.js';

/** Collects row results while a file is applied; see `createRowSpool`. */
export interface RowSpool {
  /** Records one row (called from the hot loop: synchronous, buffered). A failed row's cells go to the "Failed rows" sheet. */
  add(result: RowResult, failedCells?: FailedRowCells): void;
  /** Live counts (see `ReportCounts` for how `would-*` rows are counted). */
  readonly counts: Readonly<ReportCounts>;
  /** Failed rows kept off the "Failed rows" sheet (row-records.ts `isUnlistedFailure`). */
  readonly unlistedFailures: number;
  /** Resolves once the disk has caught up; await it between batches so the buffer stays small. */
  ready(): Promise<void>;
  /** Writes out what is buffered and closes the files; call before `rows()`/`failedRows()`. */
  finish(): Promise<void>;
  /** Every row in the order added, or those `filter` picks; may be called any number of times after `finish()`. */
  rows(filter?: RowFilter): AsyncIterable<RowResult>;
  /**
   * The JSON report's rows array between its brackets, as bytes ready to copy: each row on its own
   * indented line, comma-separated (nothing for no rows). See `ReportSource.rowsJsonBody`.
   */
  rowsJsonBody(): AsyncIterable<string | Uint8Array>;
  /** The xlsx Rows sheet's XML of the changed and failed rows, when they fit one page (see `ReportSource.rowsSheetXml`). */
  rowsSheetXml(): { rows: number; xml: AsyncIterable<string | Uint8Array> } | undefined;
  /** Every failed row's cells in the order added; may be called any number of times after `finish()`. */
  failedRows(): AsyncIterable<FailedRowCells>;
  /** Removes the spool files. Safe to call twice, or without `finish()`. */
  dispose(): Promise<void>;
}

/** One append-only file of line-separated records. */
class SpoolFile {
  private readonly file: AppendFile;

  constructor(readonly path: string) {
    this.file = new AppendFile(path, { flags: 'w', mode: REPORT_FILE_MODE });
  }

  append(record: unknown): void {
    this.file.writeLine(JSON.stringify(record));
  }

  /** Appends text as it is. */
  appendText(text: string): void {
    this.file.write(text);
  }

  /** Resolves once the disk has caught up; an error writing (ENOSPC) surfaces here or at close(). */
  async ready(): Promise<void> {
    this.check();
    await this.file.ready();
    this.check();
  }

  async close(): Promise<void> {
    await this.file.close();
    this.check();
  }

  /** Bytes written to the file so far (all of them once `close()` has resolved). */
  get bytesWritten(): number {
    return this.file.bytesWritten;
  }

  destroy(): void {
    this.file.destroy();
  }

  private check(): void {
    if (this.file.error)
      throw fail('FS_IO_FAILED', { message: `Cannot write the row spool ${this.path}.`, cause: this.file.error });
  }
}

/** Reads a file of line-separated records back one line at a time, as text; stream errors surface in the loop. */
async function* readLines(path: string): AsyncGenerator<string> {
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    const lines = (tail + (chunk as string)).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) if (line !== '') yield line;
  }
  if (tail !== '') yield tail;
}

/** Reads an NDJSON file back one parsed line at a time. */
async function* readNdjson<T>(path: string): AsyncGenerator<T> {
  for await (const line of readLines(path)) yield JSON.parse(line) as T;
}

/**
 * The rows file holds each row framed as the JSON report's rows array lays it out — a line break,
 * the indent, the row's JSON, a comma — so the report copies the file's bytes (all but the last
 * comma) instead of reading, splitting and re-joining a million lines (~0.1 s of a 100k-row load).
 */
const ROW_INDENT = '    ';
const frameRow = (json: string): string => `\n${ROW_INDENT}${json},`;
/** The row's JSON out of one line of the rows file (the indent and the comma off). */
const unframeRow = (line: string): string => line.slice(ROW_INDENT.length, -1);

/** Reads the rows file back one parsed row at a time; rows `skip` says yes to are not parsed. */
async function* readRows(path: string, skip?: (json: string) => boolean): AsyncGenerator<RowResult> {
  for await (const line of readLines(path)) {
    const json = unframeRow(line);
    if (!skip?.(json)) yield JSON.parse(json) as RowResult;
  }
}

async function* noRows(): AsyncGenerator<RowResult> {}

/** A file's bytes (from `start` to `end` inclusive); opened only once iterated (a caller may not need it after all). */
async function* readChunks(path: string, range: { start?: number; end?: number } = {}): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { ...range, highWaterMark: 256 * 1024 })) yield chunk as Uint8Array;
}

/** The rows file's bytes but its last (the final row's comma): the JSON rows array's body. */
async function* readRowsBody(path: string, bytes: number): AsyncGenerator<Uint8Array> {
  if (bytes > 1) yield* readChunks(path, { start: 0, end: bytes - 2 });
}

/**
 * True for a spooled row whose status is unchanged, without parsing it: JSON.stringify escapes the
 * quotes inside a username or message, so this text can only be the status key and its value.
 * A 100k-row re-import spent ~0.2 s parsing rows the xlsx Rows sheet then skipped.
 */
const isUnchangedRow = (json: string): boolean => json.includes('"status":"unchanged"');

/**
 * Whether a row goes on the xlsx Rows sheet: the file's rows that changed or failed. A user
 * deactivated for absence has no row in the file; the Deactivated sheet lists it instead.
 */
const isRowsSheetRow = (result: RowResult): boolean => result.status !== 'unchanged' && !isDeactivation(result.status);

/** The same test on a spooled row's text (see isUnchangedRow for why the text can be trusted). */
const isOffRowsSheet = (json: string): boolean =>
  isUnchangedRow(json) || json.includes('"status":"deactivated"') || json.includes('"status":"would-deactivate"');

/**
 * A disk-backed spool in a fresh private folder under `dir` (created if missing). Files are
 * owner-only: failed rows hold personal data (never passwords). A failed row added without its
 * cells still appears in the "Failed rows" sheet, with just its username.
 */
export function createRowSpool(dir: string): RowSpool {
  let spoolDir: string;
  try {
    mkdirSync(dir, { recursive: true });
    spoolDir = mkdtempSync(join(dir, 'usersync-spool-'));
  } catch (cause) {
    throw fail('FS_IO_FAILED', { message: `Cannot create a row spool folder in ${dir}.`, cause });
  }
  const rowsFile = new SpoolFile(join(spoolDir, 'rows-json-body.txt'));
  const failedFile = new SpoolFile(join(spoolDir, 'failed.ndjson'));
  // The Rows sheet's XML, made as rows come so the report copies it instead of reading every row
  // back to make it; only while the rows fit the sheet's first page (past that, the report pages them).
  const sheetFile = new SpoolFile(join(spoolDir, 'rows-sheet.xml'));
  // Users deactivated for absence again, for the Deactivated sheet: a few among a million rows,
  // not worth reading the rows file back for.
  const deactivatedFile = new SpoolFile(join(spoolDir, 'deactivated.ndjson'));
  let sheetRows = 0;
  const counts = newCounts();
  let finished = false;
  let unlistedFailures = 0;
  const assertFinished = (): void => {
    if (!finished) throw new Error('row spool: call finish() before reading rows back');
  };
  return {
    counts,
    get unlistedFailures() {
      return unlistedFailures;
    },
    add(result, failedCells) {
      tally(counts, result.status);
      rowsFile.appendText(frameRow(rowRecordJson(result)));
      if (isDeactivation(result.status)) deactivatedFile.append(toRowRecord(result));
      else if (result.status !== 'unchanged' && ++sheetRows < EXCEL_MAX_ROWS)
        sheetFile.appendText(unstyledRowXml(sheetRows + 1, rowsSheetCells(result)));
      const failed = toFailedCells(result, failedCells);
      if (failed) failedFile.append(failed);
      else if (isUnlistedFailure(result)) unlistedFailures += 1;
    },
    async ready() {
      await rowsFile.ready();
      await failedFile.ready();
      await sheetFile.ready();
      await deactivatedFile.ready();
    },
    async finish() {
      if (finished) return;
      await Promise.all([rowsFile.close(), failedFile.close(), sheetFile.close(), deactivatedFile.close()]);
      finished = true;
    },
    rows(filter) {
      assertFinished();
      if (filter?.deactivatedOnly)
        return counts.deactivated === 0 ? noRows() : readNdjson<RowResult>(deactivatedFile.path);
      if (!filter?.exceptUnchanged) return readRows(rowsFile.path);
      // A re-sync that changed nothing need not read its rows back just to skip every one
      // (deactivations are not counted in `rows`, and are not Rows sheet rows either).
      return counts.unchanged === counts.rows ? noRows() : readRows(rowsFile.path, isOffRowsSheet);
    },
    rowsJsonBody() {
      assertFinished();
      return readRowsBody(rowsFile.path, rowsFile.bytesWritten);
    },
    rowsSheetXml() {
      assertFinished();
      if (sheetRows >= EXCEL_MAX_ROWS) return undefined;
      return { rows: sheetRows, xml: readChunks(sheetFile.path) };
    },
    failedRows() {
      assertFinished();
      return readNdjson<FailedRowCells>(failedFile.path);
    },
    async dispose() {
      rowsFile.destroy();
      failedFile.destroy();
      sheetFile.destroy();
      deactivatedFile.destroy();
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

/** The same contract held in arrays: for tests and tiny imports. */
export function createMemoryRowSpool(): RowSpool {
  const rows: RowResult[] = [];
  const failedRows: FailedRowCells[] = [];
  const counts = newCounts();
  let unlistedFailures = 0;
  const iterate = async function* <T>(items: readonly T[]): AsyncGenerator<T> {
    yield* items;
  };
  return {
    counts,
    get unlistedFailures() {
      return unlistedFailures;
    },
    add(result, failedCells) {
      tally(counts, result.status);
      rows.push(toRowRecord(result));
      const failed = toFailedCells(result, failedCells);
      if (failed) failedRows.push(failed);
      else if (isUnlistedFailure(result)) unlistedFailures += 1;
    },
    ready: async () => undefined,
    finish: async () => undefined,
    rows: (filter) => {
      if (filter?.deactivatedOnly) return iterate(rows.filter((row) => isDeactivation(row.status)));
      return iterate(filter?.exceptUnchanged ? rows.filter(isRowsSheetRow) : rows);
    },
    rowsJsonBody: () =>
      iterate(
        rows.length === 0
          ? []
          : [
              rows
                .map((row) => frameRow(JSON.stringify(row)))
                .join('')
                .slice(0, -1),
            ],
      ),
    rowsSheetXml: () => {
      const listed = rows.filter(isRowsSheetRow);
      if (listed.length >= EXCEL_MAX_ROWS) return undefined;
      return { rows: listed.length, xml: iterate(listed.map((row, i) => unstyledRowXml(i + 2, rowsSheetCells(row)))) };
    },
    failedRows: () => iterate(failedRows),
    async dispose() {
      rows.length = 0;
      failedRows.length = 0;
    },
  };
}
