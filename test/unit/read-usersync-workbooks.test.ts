/**
 * The workbooks usersync writes, read back: the template once filled in, and a report dropped back
 * into the inbox (domain/workbook-layout.ts). Cases:
 * - the template's Instructions sheet is expected: no warning;
 * - a report (marked, or an unmarked one recognised by its sheets) is read from its Failed rows
 *   sheet only, without warnings about its Summary and Rows sheets or its Error column, whatever
 *   the order its sheets are stored in;
 * - a marked report stays a report when HR deleted its other sheets;
 * - a report without a Failed rows sheet is refused with a message saying so;
 * - a workbook that merely has a sheet named Summary is not a report.
 */
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isReportWorkbook } from '../../src/domain/workbook-layout.js';
import { stemOf } from '../../src/pipeline/claim.js';
import { createMemoryRowSpool } from '../../src/pipeline/report/row-spool.js';
import type { FailedRowCells, ReportSource, RowResult } from '../../src/pipeline/report/types.js';
import { writeXlsxReport } from '../../src/pipeline/report/write-xlsx.js';
import { writeTemplate } from '../../src/pipeline/template.js';
import { TEMPLATE } from '../fixtures/build.js';
import { directoryEntries, fixtureDir, readSettings, writeWorkbook, writeZip } from '../fixtures/workbooks.js';
import { readAllRows, rejection } from '../helpers/read.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

const readAll = (path: string) => readAllRows(path, readSettings());

/** A report as the pipeline writes it, for the rows given (failed ones with their cells). */
async function writeReport(path: string, rows: Array<[RowResult, FailedRowCells?]>): Promise<string> {
  const spool = createMemoryRowSpool();
  for (const [row, cells] of rows) spool.add(row, cells);
  const source: ReportSource = {
    summary: {
      importId: 7,
      file: { name: 'hr.xlsx', sha256: 'c'.repeat(64), bytes: 100 },
      dryRun: false,
      outcome: spool.counts.failed > 0 ? 'imported_with_errors' : 'imported',
      counts: { ...spool.counts },
      warnings: [],
      startedAt: '2026-11-24T10:00:00.000Z',
      finishedAt: '2026-11-24T10:00:01.000Z',
      durationMs: 1000,
    },
    rows: () => spool.rows(),
    failedRows: () => spool.failedRows(),
  };
  await writeXlsxReport(source, path);
  return path;
}

const FAILED_ROW: [RowResult, FailedRowCells] = [
  {
    row: 5,
    username: 'dee',
    status: 'failed',
    changes: [],
    message: 'The e-mail address is not valid.',
    code: 'ROW_INVALID_EMAIL',
  },
  {
    row: 5,
    cells: { name: 'Dee', username: 'dee', email: 'dee@example.com' },
    error: 'The e-mail address is not valid.',
  },
];
const CREATED_ROW: [RowResult] = [{ row: 2, username: 'ann', status: 'created', changes: ['name'] }];

/** The template's header row plus the report's Error column, and one fixed row. */
const FAILED_SHEET = {
  name: 'Failed rows',
  rows: [
    [...TEMPLATE, 'Error'],
    ['Dee', 'dee', null, null, 'dee@example.com', null, null, null, null, null, 'Row 5: bad e-mail'],
  ],
};

describe('reading the template back', () => {
  it('does not warn that the Instructions sheet was ignored', async () => {
    const path = fx.path('import_users.xlsx');
    await writeTemplate(path);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(path);
    workbook.getWorksheet('Users')!.addRow(['Ann Lee', 'ann']);
    await workbook.xlsx.writeFile(path);
    const { reader, rows } = await readAll(path);
    expect(reader.header.sheetName).toBe('Users');
    expect(rows.map((r) => r.cells[1])).toEqual(['ann']);
    expect(reader.header.warnings).toEqual([]);
  });
});

describe('reading a usersync report back', () => {
  it('reads its Failed rows sheet, without warnings about its other sheets or its Error column', async () => {
    const path = await writeReport(fx.path('hr.report.xlsx'), [CREATED_ROW, FAILED_ROW]);
    const { reader, rows } = await readAll(path);
    expect(reader.header.sheetName).toBe('Failed rows');
    expect(reader.header.warnings).toEqual([]);
    expect(rows.map((r) => [r.row, r.cells[0], r.cells[1], r.cells[4]])).toEqual([
      [2, 'Dee', 'dee', 'dee@example.com'],
    ]);
  });

  it('recognises a report written without the marker by its sheets, in whatever order they are stored', async () => {
    const summary = {
      name: 'Summary',
      rows: [
        ['Import report', 'hr.xlsx'],
        ['Result', 'Imported with errors'],
      ],
    };
    const rowsSheet = {
      name: 'Rows',
      rows: [
        ['Row', 'Username', 'Status', 'Changed fields', 'Message'],
        [5, 'dee', 'failed', null, 'bad e-mail'],
      ],
    };
    for (const [name, sheets] of [
      ['old.report.xlsx', [summary, FAILED_SHEET, rowsSheet]],
      ['paged.report.xlsx', [summary, FAILED_SHEET, rowsSheet, { ...rowsSheet, name: 'Rows (2)' }]],
    ] as const) {
      const { reader, rows } = await readAll(await writeWorkbook(fx.path(name), [...sheets]));
      expect(reader.header.sheetName).toBe('Failed rows');
      expect(reader.header.warnings).toEqual([]);
      expect(rows.map((r) => r.cells[1])).toEqual(['dee']);
    }
    // The Rows sheet stored before the Failed rows sheet in the zip (the reader reads sheets in
    // stored order): it has a Username column but no Name column, and must not be taken for the
    // sheet to import.
    const entries = await directoryEntries(
      await writeWorkbook(fx.path('tabs.xlsx'), [summary, FAILED_SHEET, rowsSheet]),
    );
    const rank = (name: string) =>
      name === 'xl/worksheets/sheet3.xml' ? 0 : name === 'xl/worksheets/sheet2.xml' ? 1 : -1;
    const stored = entries
      .filter(([name]) => !name.endsWith('/'))
      .sort(([a], [b]) => (rank(a) >= 0 && rank(b) >= 0 ? rank(a) - rank(b) : 0));
    expect(stored.map(([name]) => name).filter((name) => rank(name) >= 0)).toEqual([
      'xl/worksheets/sheet3.xml',
      'xl/worksheets/sheet2.xml',
    ]);
    const reordered = await writeZip(fx.path('reordered.report.xlsx'), Object.fromEntries(stored));
    const again = await readAll(reordered);
    expect(again.reader.header.sheetName).toBe('Failed rows');
    expect(again.rows.map((r) => r.cells[1])).toEqual(['dee']);
  });

  it('still recognises a marked report whose Summary and Rows sheets HR deleted', async () => {
    const path = await writeReport(fx.path('trimmed.report.xlsx'), [CREATED_ROW, FAILED_ROW]);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(path);
    book.removeWorksheet(book.getWorksheet('Summary')!.id);
    book.removeWorksheet(book.getWorksheet('Rows')!.id);
    await book.xlsx.writeFile(path);
    const { reader, rows } = await readAll(path);
    expect(reader.header.warnings).toEqual([]);
    expect(rows.map((r) => r.cells[1])).toEqual(['dee']);
  });

  it('refuses a report without a Failed rows sheet, saying so, instead of reading its Rows sheet', async () => {
    const path = await writeReport(fx.path('clean.report.xlsx'), [CREATED_ROW]);
    const error = await rejection(readAll(path));
    expect(error.code).toBe('FILE_REPORT_NO_FAILED_ROWS');
    expect(error.message).toContain('without a Failed rows sheet');
  });

  it('takes a workbook for a report only by its marker or its exact set of sheets', () => {
    const sheets = (...names: string[]) => names.map((name) => ({ name, hidden: false }));
    expect(isReportWorkbook(sheets('Summary', 'Failed rows', 'Failed rows (2)', 'Rows', 'Rows (2)'))).toBe(true);
    expect(isReportWorkbook(sheets('Summary', 'Rows'))).toBe(true);
    expect(isReportWorkbook(sheets('Failed rows'), 'usersync-report')).toBe(true);
    expect(isReportWorkbook(sheets('Summary', 'Users'))).toBe(false);
    expect(isReportWorkbook(sheets('Rows', 'Summary'))).toBe(false);
    expect(isReportWorkbook(sheets('Summary', 'Failed rows', 'Rows', 'Notes'))).toBe(false);
    expect(isReportWorkbook(sheets('Users'), 'usersync, payroll')).toBe(false);
  });

  it('names the reports of a report dropped back in .retry, not .report.report', () => {
    expect(stemOf('users.2024-01.xlsx')).toBe('users.2024-01');
    expect(stemOf('users.report.xlsx')).toBe('users.retry');
    expect(stemOf('7_users.report (2).xlsx')).toBe('7_users.retry');
    expect(stemOf('users.retry.report.XLSX')).toBe('users.retry.retry');
    expect(stemOf('reporting.xlsx')).toBe('reporting');
  });
});
