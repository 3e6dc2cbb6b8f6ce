/**
 * How the reports show users a mirror feed deactivated for being left out of its file (SPEC §8).
 * They are added to the spool after the file's rows with `row: null`. Cases:
 * - JSON: those rows keep `row: null` (from a disk spool's copied body and from parsed rows), and
 *   `counts.deactivated` is always there, 0 when none, not counted in `rows`;
 * - xlsx: a Deactivated sheet (Username, Status) after Rows and before Held; the Rows sheet lists
 *   only the file's rows, whether it is copied from the spool or built from `rows()`; no
 *   Deactivated sheet when nobody was;
 * - Summary: a Deactivated line (Would be deactivated in a dry run or a held import) that says
 *   what they are and where they are listed, and the Result sentence mentions them;
 * - the spool reads back only them (`deactivatedOnly`), and never among the Rows sheet's rows;
 * - a report with a Deactivated sheet is still recognised as a report and read from Failed rows.
 */
import ExcelJS from 'exceljs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GuardTrip } from '../../src/domain/guards.js';
import { isExpectedSheet, isReportWorkbook } from '../../src/domain/workbook-layout.js';
import { wouldHaveDone } from '../../src/pipeline/report/guard-lines.js';
import { createMemoryRowSpool, createRowSpool, type RowSpool } from '../../src/pipeline/report/row-spool.js';
import { outcomeInWords } from '../../src/pipeline/report/summary-lines.js';
import type { FailedRowCells, ReportSource, ReportSummary, RowResult } from '../../src/pipeline/report/types.js';
import { writeJsonReport } from '../../src/pipeline/report/write-json.js';
import { writeXlsxReport } from '../../src/pipeline/report/write-xlsx.js';
import { readSettings } from '../fixtures/workbooks.js';
import { readAllRows } from '../helpers/read.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-deactivated-report-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Added = [RowResult, FailedRowCells?];

/** A mirror file's rows, then the two users it left out, as the apply stage adds them. */
const MIRROR: Added[] = [
  [{ row: 2, username: 'ann', status: 'created', changes: [] }],
  [{ row: 3, username: 'bob', status: 'updated', changes: ['email'] }],
  [{ row: 4, username: 'cy', status: 'unchanged', changes: [] }],
  [
    { row: 5, username: 'dee', status: 'failed', changes: [], message: 'The e-mail address is not valid.' },
    { row: 5, cells: { name: 'Dee', username: 'dee', email: 'dee@' }, error: 'The e-mail address is not valid.' },
  ],
  [{ row: null, username: 'eve', status: 'deactivated', changes: ['active'] }],
  [{ row: null, username: 'fay', status: 'deactivated', changes: ['active'] }],
];

/** The same file in a dry run (or held): nobody deactivated yet. */
const wouldBe = (rows: Added[]): Added[] =>
  rows.map(([row, cells]) => {
    const status = { created: 'would-create', updated: 'would-update', deactivated: 'would-deactivate' }[
      row.status as string
    ] as RowResult['status'] | undefined;
    return [{ ...row, status: status ?? row.status }, cells];
  });

/** A report source over `spool` (filled with `rows`); the disk spool's fast paths too, as import-steps.ts passes them. */
async function sourceOf(spool: RowSpool, rows: Added[], overrides: Partial<ReportSummary> = {}): Promise<ReportSource> {
  for (const [row, cells] of rows) spool.add(row, cells);
  await spool.finish();
  const summary: ReportSummary = {
    importId: 9,
    file: { name: 'workday.xlsx', sha256: 'e'.repeat(64), bytes: 900 },
    dryRun: false,
    outcome: spool.counts.failed > 0 ? 'imported_with_errors' : 'imported',
    counts: { ...spool.counts },
    warnings: [],
    startedAt: '2026-12-07T10:00:00.000Z',
    finishedAt: '2026-12-07T10:00:01.000Z',
    durationMs: 1000,
    feed: 'workday',
    ...overrides,
  };
  return {
    summary,
    rows: (filter) => spool.rows(filter),
    rowsJsonBody: () => spool.rowsJsonBody(),
    rowsSheetXml: () => spool.rowsSheetXml(),
    failedRows: () => spool.failedRows(),
  };
}

/** Only `rows()` and `failedRows()`: the writers' slow paths, which must filter by status themselves. */
const plainSource = (source: ReportSource): ReportSource => ({
  summary: source.summary,
  rows: () => source.rows(), // ignores the filter, as a source may
  failedRows: () => source.failedRows(),
});

const spools: Array<[string, () => RowSpool]> = [
  ['disk', () => createRowSpool(dir)],
  ['memory', () => createMemoryRowSpool()],
];

async function jsonOf(source: ReportSource): Promise<{ counts: Record<string, number>; rows: RowResult[] }> {
  const file = join(dir, 'r.json');
  await writeJsonReport(source, file);
  return JSON.parse(await readFile(file, 'utf8')) as { counts: Record<string, number>; rows: RowResult[] };
}

async function xlsxOf(source: ReportSource): Promise<ExcelJS.Workbook> {
  const file = join(dir, 'r.xlsx');
  await writeXlsxReport(source, file);
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  return book;
}

function sheetRows(book: ExcelJS.Workbook, name: string): unknown[][] {
  const rows: unknown[][] = [];
  book.getWorksheet(name)!.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return rows;
}

const summaryValue = (book: ExcelJS.Workbook, label: string): unknown => {
  let value: unknown;
  book.getWorksheet('Summary')!.eachRow((row) => {
    if (row.getCell(1).value === label) value = row.getCell(2).value;
  });
  return value;
};

describe.each(spools)('reports of a mirror import (%s spool)', (_kind, makeSpool) => {
  it('lists the users left out with row: null and counts them in counts.deactivated, not in rows', async () => {
    const source = await sourceOf(makeSpool(), MIRROR);
    for (const report of [await jsonOf(source), await jsonOf(plainSource(source))]) {
      expect(report.counts).toEqual({ rows: 4, created: 1, updated: 1, unchanged: 1, failed: 1, deactivated: 2 });
      expect(report.rows.slice(-2)).toEqual([
        { row: null, username: 'eve', status: 'deactivated', changes: ['active'] },
        { row: null, username: 'fay', status: 'deactivated', changes: ['active'] },
      ]);
      expect(report.rows.map((r) => r.row)).toEqual([2, 3, 4, 5, null, null]);
    }
  });

  it('writes counts.deactivated: 0 when nobody was deactivated', async () => {
    const report = await jsonOf(await sourceOf(makeSpool(), MIRROR.slice(0, 3)));
    expect(report.counts.deactivated).toBe(0);
  });

  it('lists them on a Deactivated sheet after Rows, and only the file rows on the Rows sheet', async () => {
    const source = await sourceOf(makeSpool(), MIRROR);
    for (const book of [await xlsxOf(source), await xlsxOf(plainSource(source))]) {
      expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Failed rows', 'Rows', 'Deactivated']);
      expect(sheetRows(book, 'Deactivated')).toEqual([
        ['Username', 'Status'],
        ['eve', 'deactivated'],
        ['fay', 'deactivated'],
      ]);
      expect(sheetRows(book, 'Rows').map((r) => r[1])).toEqual(['Username', 'ann', 'bob', 'dee']);
      expect(summaryValue(book, 'Deactivated')).toBe(
        '2 (active users of feed "workday" that this file left out; listed on the Deactivated sheet)',
      );
      expect(summaryValue(book, 'Rows read')).toBe(4);
    }
  });

  it('has no Deactivated sheet and a Deactivated line of 0 when nobody was deactivated', async () => {
    const book = await xlsxOf(await sourceOf(makeSpool(), MIRROR.slice(0, 3)));
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Rows']);
    expect(summaryValue(book, 'Deactivated')).toBe(0);
  });

  it('keeps the users left out off the Rows sheet even when every row of the file is unchanged', async () => {
    const spool = makeSpool();
    const source = await sourceOf(spool, [MIRROR[2]!, MIRROR[4]!]);
    const readBack = async (rows: AsyncIterable<RowResult>) => {
      const list: string[] = [];
      for await (const row of rows) list.push(row.username);
      return list;
    };
    expect(await readBack(spool.rows({ exceptUnchanged: true }))).toEqual([]);
    expect(await readBack(spool.rows({ deactivatedOnly: true }))).toEqual(['eve']);
    const book = await xlsxOf(source);
    expect(sheetRows(book, 'Rows')).toEqual([['Row', 'Username', 'Status', 'Changed fields', 'Message']]);
    expect(sheetRows(book, 'Deactivated').slice(1)).toEqual([['eve', 'deactivated']]);
  });
});

describe('would-be deactivations', () => {
  const DEACTIVATE: GuardTrip = { guard: 'deactivate', limit: 1, planned: 2, users: ['eve', 'fay'] };

  it('says "Would be deactivated" in a dry run and lists them as would-deactivate', async () => {
    const book = await xlsxOf(await sourceOf(createMemoryRowSpool(), wouldBe(MIRROR), { dryRun: true }));
    expect(summaryValue(book, 'Would be deactivated')).toMatch(/^2 \(active users of feed "workday"/);
    expect(summaryValue(book, 'Deactivated')).toBeUndefined();
    expect(sheetRows(book, 'Deactivated').slice(1)).toEqual([
      ['eve', 'would-deactivate'],
      ['fay', 'would-deactivate'],
    ]);
  });

  it('puts Deactivated before Held on a held import, and counts them in what it would have done', async () => {
    const source = await sourceOf(createMemoryRowSpool(), wouldBe(MIRROR), {
      outcome: 'held',
      guards: [DEACTIVATE],
      approveCommand: 'usersync holds approve 9',
    });
    const book = await xlsxOf(source);
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Failed rows', 'Rows', 'Deactivated', 'Held']);
    expect(wouldHaveDone(source.summary)).toBe(
      'Would create 1 user and update 1; 1 unchanged; 1 row would fail; would deactivate 2 users',
    );
    expect(wouldHaveDone({ ...source.summary, counts: { ...source.summary.counts, deactivated: 0 } })).not.toContain(
      'deactivate',
    );
  });
});

describe('the Result sentence', () => {
  const summary = (outcome: ReportSummary['outcome'], dryRun: boolean, deactivated: number): ReportSummary => ({
    importId: 1,
    file: { name: 'f.xlsx', sha256: '0'.repeat(64), bytes: 1 },
    dryRun,
    outcome,
    counts: {
      rows: 10,
      created: 0,
      updated: 1,
      unchanged: 8,
      failed: outcome === 'imported_with_errors' ? 1 : 0,
      deactivated,
    },
    warnings: [],
    startedAt: '',
    finishedAt: '',
    durationMs: 0,
    ...(outcome === 'held' ? { guards: [{ guard: 'deactivate', limit: 1, planned: deactivated, users: [] }] } : {}),
  });

  it('mentions the users left out when there are some, and stays as it was when there are none', () => {
    expect(outcomeInWords(summary('imported', false, 3))).toBe(
      'Imported: all 10 rows were applied; 3 users left out of the file were deactivated',
    );
    expect(outcomeInWords(summary('imported', false, 1))).toBe(
      'Imported: all 10 rows were applied; 1 user left out of the file was deactivated',
    );
    expect(outcomeInWords(summary('imported_with_errors', false, 2))).toBe(
      'Imported with errors: 1 row failed, 9 other rows were applied; 2 users left out of the file were deactivated',
    );
    // "nothing was changed" stays last in a dry run and a held import.
    expect(outcomeInWords(summary('imported', true, 2))).toBe(
      'Dry run: all 10 rows are valid; 2 users left out of the file would be deactivated; nothing was changed',
    );
    expect(outcomeInWords(summary('held', false, 2))).toBe(
      'Held for approval: 1 safety limit was exceeded; 2 users left out of the file would be deactivated; nothing was changed',
    );
    expect(outcomeInWords(summary('imported', false, 0))).toBe('Imported: all 10 rows were applied');
  });
});

describe('a report with a Deactivated sheet read back', () => {
  it('is recognised as a report by its sheets, Deactivated after Rows and before Held', () => {
    const sheets = (...names: string[]) => names.map((name) => ({ name, hidden: false }));
    expect(isReportWorkbook(sheets('Summary', 'Rows', 'Deactivated'))).toBe(true);
    expect(isReportWorkbook(sheets('Summary', 'Failed rows', 'Rows', 'Deactivated', 'Deactivated (2)', 'Held'))).toBe(
      true,
    );
    expect(isReportWorkbook(sheets('Summary', 'Deactivated', 'Failed rows', 'Rows'))).toBe(false);
    expect(isReportWorkbook(sheets('Summary', 'Failed rows', 'Rows', 'Held', 'Deactivated'))).toBe(false);
    expect(isExpectedSheet('Deactivated', true)).toBe(true);
    expect(isExpectedSheet('Deactivated', false)).toBe(false);
  });

  it('is read from its Failed rows only, without warnings about its Deactivated sheet', async () => {
    const file = join(dir, 'workday.report.xlsx');
    await writeXlsxReport(await sourceOf(createMemoryRowSpool(), MIRROR), file);
    const { reader, rows } = await readAllRows(file, readSettings());
    expect(reader.header.sheetName).toBe('Failed rows');
    expect(reader.header.warnings).toEqual([]);
    expect(rows.map((r) => r.cells[1])).toEqual(['dee']);
  });
});
