/**
 * sheet-rows.ts reads a worksheet's cells without exceljs' Row and Cell objects, promising the same
 * values. Every corpus workbook the reader would open (sniffFile passes it) is read both ways in
 * this process — exceljs' own rows, and sheetRows over the same sheet's XML — and each cell's text
 * (cellToText), row numbers and any failure's classification must agree. (The one intended
 * difference, inline strings of several runs, exceljs reading only the last, does not occur in the
 * corpus: its only inline rich-text cells have one run each. read-xlsx.test.ts covers it.)
 */
// First: the sax fix must replace exceljs' XML reader before exceljs loads (exceljs-sax-fix.ts).
import '../../src/xlsx/patches/exceljs-sax-fix.js';
import { sheetRows, type WorkbookParts } from '../../src/xlsx/sheet/sheet-rows.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { UsersyncError } from '../../src/errors.js';
import { cellToText, type CellLike } from '../../src/xlsx/sheet/cell-to-text.js';
import { sniffFile } from '../../src/pipeline/read/sniff.js';
import { fixUnzipperEnd } from '../../src/xlsx/patches/unzipper-end-fix.js';
import { classifyParseError } from '../../src/xlsx/xlsx-errors.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { readSettings } from '../fixtures/workbooks.js';

const CORPUS = process.env.USERSYNC_CORPUS ?? path.resolve(REPO_ROOT, '..', 'shared', 'corpus');
const files = existsSync(CORPUS)
  ? readdirSync(CORPUS).filter((name) => /\.xls[xm]$/i.test(name) && statSync(path.join(CORPUS, name)).isFile())
  : [];

let zipError: Error | undefined;
fixUnzipperEnd((error) => (zipError ??= error));

/**
 * Per sheet, its first lines "row number: column=text|…" (for a readable difference) and a digest
 * of all of them; or the failure's code. At most MAX_ROWS rows of MAX_SHEETS sheets a workbook
 * (some corpus sheets run to a million rows; the reader stops far earlier without a header), so
 * this stays a few minutes on a slow machine.
 */
type Reading = { sheets: Array<{ rows: number; first: string[]; digest: string }> } | { failed: string };
const MAX_ROWS = 1_000;
const MAX_SHEETS = 4;
const SHOWN_LINES = 30;

/** exceljs' Row: its `_cells` has a Cell wherever the XML had a `<c>` (holes elsewhere). */
type Sheet = AsyncIterable<{ number: number; _cells: Array<CellLike | undefined> }> & {
  iterator: AsyncIterable<Buffer | string>;
  workbook: WorkbookParts;
};

const line = (number: number, cells: Array<[number, CellLike]>) =>
  `${number}: ${cells.map(([column, cell]) => `${column}=${JSON.stringify(cellToText(cell))}`).join('|')}`;

async function read(file: string, light: boolean): Promise<Reading> {
  zipError = undefined;
  try {
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, {
      sharedStrings: 'cache',
      hyperlinks: 'ignore',
      styles: 'cache',
      worksheets: 'emit',
    });
    const sheets: Array<{ rows: number; first: string[]; digest: string }> = [];
    for await (const sheet of reader as unknown as AsyncIterable<Sheet>) {
      const digest = createHash('sha256');
      const first: string[] = [];
      let rows = 0;
      const add = (text: string): boolean => {
        if (first.length < SHOWN_LINES) first.push(text);
        digest.update(`${text}\n`);
        return ++rows < MAX_ROWS;
      };
      if (light) {
        reading: for await (const batch of sheetRows(sheet.iterator, sheet.workbook)) {
          for (const row of batch)
            if (
              !add(
                line(
                  row.number,
                  row.cells.flatMap((cell, i) => (cell === undefined ? [] : [[i + 1, cell] as [number, CellLike]])),
                ),
              )
            )
              break reading;
        }
      } else {
        for await (const row of sheet) {
          const cells: Array<[number, CellLike]> = [];
          row._cells.forEach((cell, i) => cell !== undefined && cells.push([i + 1, cell]));
          if (!add(line(row.number, cells))) break;
        }
      }
      sheets.push({ rows, first, digest: digest.digest('hex') });
      if (sheets.length === MAX_SHEETS) break;
      if (zipError) throw zipError;
    }
    if (zipError) throw zipError;
    return { sheets };
  } catch (error) {
    return { failed: (error instanceof UsersyncError ? error : classifyParseError(error)).code };
  }
}

describe.skipIf(files.length === 0)('sheet rows: the same cells as exceljs, corpus-wide', () => {
  it('reads every corpus workbook the reader accepts to the same cell texts, row numbers and failures', async () => {
    let compared = 0;
    let rows = 0;
    for (const name of files) {
      const file = path.join(CORPUS, name);
      const kind = await sniffFile(file, readSettings()).then(
        (s) => s.kind,
        () => undefined,
      );
      if (kind !== 'xlsx') continue;
      const expected = await read(file, false);
      const actual = await read(file, true);
      expect({ name, ...actual }).toEqual({ name, ...expected });
      compared++;
      if ('sheets' in expected) rows += expected.sheets.reduce((n, sheet) => n + sheet.rows, 0);
    }
    // Most of the corpus is real workbooks: a filter that let none through would prove nothing.
    expect(compared).toBeGreaterThan(250);
    expect(rows).toBeGreaterThan(10_000);
  }, 600_000);
});
