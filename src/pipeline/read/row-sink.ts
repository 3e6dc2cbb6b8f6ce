/**
 * Collects data rows into batches and enforces the row limits (SPEC §1, PITFALLS §3.9–3.10):
 * all-blank rows skipped, reading stopped after import.maxEmptyRows consecutive blank rows,
 * FILE_TOO_MANY_ROWS past import.maxRows, over-long cells turned into a row-failing error.
 */
import { COLUMN_KEYS, tooLongCell, type CellValue, type RawRow } from '../../domain/columns.js';
import { fail } from '../../errors.js';
import type { ReadSettings, SheetHeader } from './types.js';
import type { UsersyncError } from '../../errors.js';

/**
 * Rows per batch handed to the next stage. A batch's objects (its cells, intents, diffs, the
 * statements' bindings) live from decoding until its write: at 2,000 rows that outlasted two
 * young-generation GCs, so most of it was copied into the old generation (140 MB promoted in a
 * 100k-row first load, 0.69 s of scavenges on the import's thread). At 500 rows (and audit lines
 * staged as bytes, pipeline/audit.ts): 39 MB, 0.34 s, and the first load 5.39 → 4.94 s, an
 * unchanged re-import 4.01 → 3.44 s (alternating runs, medians; SQLite). 250 was no better. SQLite's statements were 500 rows already; MySQL's first
 * load measured the same at 500, 1,000 and 2,000.
 */
export const BATCH_ROWS = 500;

/** The outcome of adding a row. */
export type AddResult = 'ok' | 'full' | 'stop';

/** A fresh cells array for one row (length = number of template columns, all blank). */
export function emptyCells(): Array<CellValue | undefined> {
  return new Array<CellValue | undefined>(COLUMN_KEYS.length);
}

export class RowSink {
  private batch: RawRow[] = [];
  /** Data rows accepted so far. */
  rows = 0;
  private lastFilledRow: number;
  private readonly tooLong: CellValue;

  constructor(
    private readonly settings: Pick<ReadSettings, 'maxRows' | 'maxEmptyRows' | 'maxCellChars'>,
    headerRow: number,
    /** Sentences appended when reading stops early. */
    private readonly warnings: string[],
  ) {
    this.lastFilledRow = headerRow;
    // An over-long cell becomes an error value, so its row fails with a clear message while
    // memory stays bounded; the rest of the file still imports.
    this.tooLong = tooLongCell(settings.maxCellChars);
  }

  /**
   * Adds a row (cells indexed like COLUMN_KEYS). 'full': take the batch now; 'stop': stop reading,
   * the blank rows above this one exceed import.maxEmptyRows (the row itself is not added).
   */
  add(rowNumber: number, cells: Array<CellValue | undefined>): AddResult {
    let blank = true;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i];
      if (cell === undefined || cell === '') continue;
      blank = false;
      if (typeof cell === 'string' && cell.length > this.settings.maxCellChars) cells[i] = this.tooLong;
    }
    const blankRun = rowNumber - this.lastFilledRow - 1;
    if (blankRun >= this.settings.maxEmptyRows) {
      if (!blank) {
        this.warnings.push(
          `Reading stopped at row ${rowNumber}: it follows ${blankRun} blank rows (import.maxEmptyRows is ${this.settings.maxEmptyRows}), so rows from ${rowNumber} on were not read.`,
        );
      }
      return 'stop';
    }
    if (blank) return 'ok';
    this.lastFilledRow = rowNumber;
    if (++this.rows > this.settings.maxRows) {
      throw fail('FILE_TOO_MANY_ROWS', {
        message: `The file has more than ${this.settings.maxRows} data rows (import.maxRows). Split it into several files.`,
        details: { maxRows: this.settings.maxRows },
      });
    }
    this.batch.push({ row: rowNumber, cells });
    return this.batch.length >= BATCH_ROWS ? 'full' : 'ok';
  }

  /** Takes the rows collected so far (possibly none). */
  take(): RawRow[] {
    const batch = this.batch;
    this.batch = [];
    return batch;
  }
}

/** FILE_NO_DATA_ROWS, saying where the header was. */
export function noDataRows(header: SheetHeader): UsersyncError {
  const where =
    header.sheetName === null ? `line ${header.headerRow}` : `row ${header.headerRow} of sheet "${header.sheetName}"`;
  return fail('FILE_NO_DATA_ROWS', {
    message: `The file has a header row (${where}) but no data rows. An empty export usually means the export failed upstream; export the list again.`,
  });
}
