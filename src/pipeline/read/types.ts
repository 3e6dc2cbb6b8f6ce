/**
 * The read stage's public shapes (re-exported by index.ts), kept apart so the worker and the
 * readers can share them without importing index.ts.
 */
import type { Config } from '../../config/schema.js';
import type { ColumnKey, RawRow } from '../../domain/columns.js';

/** The settings the read stage uses (limits, aliases, worker resources). */
export type ReadSettings = Config['import'];

/** What was found about the sheet before its data rows: where the header is and what it holds. */
export interface SheetHeader {
  format: 'xlsx' | 'csv';
  /** The sheet read (null for CSV). */
  sheetName: string | null;
  /** Spreadsheet row number (CSV: line number) of the header row. */
  headerRow: number;
  /** The template columns present, in file order. */
  columns: ColumnKey[];
  /** The header texts of the file as written, in file order, '' for blank header cells (for the report). */
  headers: string[];
  /**
   * Human sentences for the report: unknown columns, other sheets ignored, reading stopped early.
   * The array may grow while `batches()` runs (read it after the last batch).
   */
  warnings: string[];
  /** CSV only: how the bytes were decoded. */
  encoding?: 'utf-8' | 'windows-1252';
}

/** An open spreadsheet whose header row is known. */
export interface SpreadsheetReader {
  readonly header: SheetHeader;
  /**
   * Data rows in batches, in file order; all-blank rows skipped. Can be iterated ONCE. Throws a
   * FileError if reading fails part-way (FILE_TOO_MANY_ROWS, FILE_PARSE_TIMEOUT,
   * FILE_PARSE_OUT_OF_MEMORY, FILE_PARSE_FAILED, …), and FILE_NO_DATA_ROWS when the header had no
   * data rows after it.
   */
  batches(): AsyncIterable<RawRow[]>;
  /** Stops reading early and releases everything (worker terminated, temp files removed). Idempotent. */
  close(): Promise<void>;
}
