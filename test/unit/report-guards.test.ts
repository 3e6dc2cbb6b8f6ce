/**
 * How the two reports show guards and holds (SPEC §9 "What a hold looks like"). Cases:
 * - held: JSON `outcome: "held"`, `guards` and `approveCommand` right after `counts`; the xlsx
 *   Summary names each tripped guard, what the file would have done, how to approve and decline;
 *   a Held sheet lists each guard's users, with "… and N more" past the listed ones;
 * - dry run with guards that would trip: a "would be held" line per guard, no commands;
 * - applied with `allowed`: which guards were overridden, in both reports;
 * - safety on, nothing tripped: `guards: []` in the JSON, no Held sheet; safety off (no `guards`
 *   in the summary): no guard field at all;
 * - a held report dropped back into the inbox is read from its Failed rows only, without warnings.
 */
import ExcelJS from 'exceljs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GuardTrip } from '../../src/domain/guards.js';
import { isReportWorkbook } from '../../src/domain/workbook-layout.js';
import { declineCommand, guardInWords } from '../../src/pipeline/report/guard-lines.js';
import { createMemoryRowSpool } from '../../src/pipeline/report/row-spool.js';
import type { FailedRowCells, ReportSource, ReportSummary, RowResult } from '../../src/pipeline/report/types.js';
import { writeJsonReport } from '../../src/pipeline/report/write-json.js';
import { writeXlsxReport } from '../../src/pipeline/report/write-xlsx.js';
import { readSettings } from '../fixtures/workbooks.js';
import { readAllRows } from '../helpers/read.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-guards-report-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Added = [RowResult, FailedRowCells?];

/** A held plan's rows: what a dry run would report, one of them failed. */
const WOULD_BE: Added[] = [
  [{ row: 2, username: 'ann', status: 'would-create', changes: [] }],
  [{ row: 3, username: 'bob', status: 'would-update', changes: ['ignoreMfa'] }],
  [{ row: 4, username: 'cy', status: 'unchanged', changes: [] }],
  [
    { row: 5, username: 'dee', status: 'failed', changes: [], message: 'The e-mail address is not valid.' },
    { row: 5, cells: { name: 'Dee', username: 'dee', email: 'dee@' }, error: 'The e-mail address is not valid.' },
  ],
];

const MFA: GuardTrip = { guard: 'mfaBypass', limit: 10, planned: 512, users: ['bob', 'carla', '-dash'] };
const DEACTIVATE: GuardTrip = { guard: 'deactivate', limit: 50, planned: 2, users: ['eve', 'fay'] };

function sourceOf(rows: Added[], overrides: Partial<ReportSummary>): ReportSource {
  const spool = createMemoryRowSpool();
  for (const [row, cells] of rows) spool.add(row, cells);
  const summary: ReportSummary = {
    importId: 42,
    file: { name: 'hr.xlsx', sha256: 'd'.repeat(64), bytes: 512 },
    dryRun: false,
    outcome: 'imported',
    counts: { ...spool.counts },
    warnings: [],
    startedAt: '2026-12-07T10:00:00.000Z',
    finishedAt: '2026-12-07T10:00:01.000Z',
    durationMs: 1000,
    sheetName: 'Users',
    headerRow: 1,
    database: 'mysql://app:s3cret@db/users',
    ...overrides,
  };
  return { summary, rows: () => spool.rows(), failedRows: () => spool.failedRows() };
}

const held = (overrides: Partial<ReportSummary> = {}): ReportSource =>
  sourceOf(WOULD_BE, {
    outcome: 'held',
    guards: [DEACTIVATE, MFA],
    approveCommand: 'usersync --config /etc/usersync.json holds approve 42',
    ...overrides,
  });

async function jsonOf(source: ReportSource): Promise<Record<string, unknown>> {
  const file = join(dir, 'r.json');
  await writeJsonReport(source, file);
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

async function xlsxOf(source: ReportSource): Promise<ExcelJS.Workbook> {
  const file = join(dir, 'r.xlsx');
  await writeXlsxReport(source, file);
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  return book;
}

/** The Summary sheet as [label, value] lines, in order (labels may repeat: one "Held" per guard). */
function summaryOf(book: ExcelJS.Workbook): Array<[string, unknown]> {
  const lines: Array<[string, unknown]> = [];
  book.getWorksheet('Summary')!.eachRow((row) => lines.push([String(row.getCell(1).value), row.getCell(2).value]));
  return lines;
}
const valuesOf = (lines: Array<[string, unknown]>, label: string) =>
  lines.filter(([l]) => l === label).map(([, v]) => v);

function sheetRows(book: ExcelJS.Workbook, name: string): unknown[][] {
  const rows: unknown[][] = [];
  book.getWorksheet(name)!.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return rows;
}

describe('JSON report with guards', () => {
  it('puts guards and approveCommand of a held import right after counts, with the would-be rows', async () => {
    const report = await jsonOf(held());
    expect(Object.keys(report)).toEqual([
      'importId',
      'file',
      'dryRun',
      'outcome',
      'counts',
      'guards',
      'approveCommand',
      'warnings',
      'startedAt',
      'finishedAt',
      'durationMs',
      'sheetName',
      'headerRow',
      'rows',
    ]);
    expect(report.outcome).toBe('held');
    expect(report.counts).toEqual({ rows: 4, created: 1, updated: 1, unchanged: 1, failed: 1, deactivated: 0 });
    expect(report.guards).toEqual([DEACTIVATE, MFA]);
    expect(Object.keys((report.guards as object[])[0]!)).toEqual(['guard', 'limit', 'planned', 'users']);
    expect(report.approveCommand).toBe('usersync --config /etc/usersync.json holds approve 42');
    expect((report.rows as RowResult[]).map((r) => r.status)).toEqual([
      'would-create',
      'would-update',
      'unchanged',
      'failed',
    ]);
  });

  it('lists allowed after guards when an override let guards through', async () => {
    const report = await jsonOf(sourceOf(WOULD_BE.slice(0, 2), { guards: [MFA], allowed: ['mfaBypass'] }));
    const keys = Object.keys(report);
    expect(keys.slice(keys.indexOf('counts'), keys.indexOf('warnings') + 1)).toEqual([
      'counts',
      'guards',
      'allowed',
      'warnings',
    ]);
    expect(report.allowed).toEqual(['mfaBypass']);
    expect(report).not.toHaveProperty('approveCommand');
  });

  it('writes guards: [] when safety was on and nothing tripped, and no guard fields when safety was off', async () => {
    const on = await jsonOf(sourceOf(WOULD_BE, { guards: [] }));
    expect(on.guards).toEqual([]);
    expect(Object.keys(on).indexOf('guards')).toBe(Object.keys(on).indexOf('counts') + 1);
    const off = await jsonOf(sourceOf(WOULD_BE, {}));
    for (const field of ['guards', 'allowed', 'approveCommand']) expect(off).not.toHaveProperty(field);
  });
});

describe('xlsx report with guards', () => {
  it('says on the Summary which guards held the file, what it would have done and how to approve or decline it', async () => {
    const book = await xlsxOf(held());
    const lines = summaryOf(book);
    expect(valuesOf(lines, 'Result')).toEqual([
      'Held for approval: 2 safety limits were exceeded; nothing was changed',
    ]);
    expect(valuesOf(lines, 'Held')).toEqual([
      '2 active users would be deactivated — the limit is 50 (safety.limits.deactivate)',
      '512 users would have Ignore MFA turned on — the limit is 10 (safety.limits.mfaBypass)',
    ]);
    expect(valuesOf(lines, 'Would have done')).toEqual([
      'Would create 1 user and update 1; 1 unchanged; 1 row would fail. Nothing was written.',
    ]);
    expect(valuesOf(lines, 'To approve')).toEqual(['usersync --config /etc/usersync.json holds approve 42']);
    expect(valuesOf(lines, 'To decline')).toEqual(['usersync --config /etc/usersync.json holds decline 42']);
    expect(valuesOf(lines, 'Would be created')).toEqual([1]);
    expect(valuesOf(lines, 'Would be updated')).toEqual([1]);
    expect(valuesOf(lines, 'Created')).toEqual([]);
    // Right after the result, before the file's details.
    const labels = lines.map(([label]) => label);
    expect(labels.slice(1, 8)).toEqual([
      'Result',
      'Held',
      'Held',
      'Users counted',
      'Would have done',
      'To approve',
      'To decline',
    ]);
    expect(JSON.stringify(lines)).not.toContain('s3cret');
  });

  it("lists each guard's users on a Held sheet after the others, with a note for the ones not listed", async () => {
    const book = await xlsxOf(held());
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Failed rows', 'Rows', 'Held']);
    expect(sheetRows(book, 'Held')).toEqual([
      ['Guard', 'Limit', 'Planned', 'Username'],
      ['deactivate', 50, 2, 'eve'],
      ['deactivate', 50, 2, 'fay'],
      ['mfaBypass', 10, 512, 'bob'],
      ['mfaBypass', 10, 512, 'carla'],
      ['mfaBypass', 10, 512, "'-dash"],
      ['mfaBypass', 10, 512, '… and 509 more'],
    ]);
    expect(book.getWorksheet('Held')!.getRow(1).font?.bold).toBe(true);
  });

  it('says, for a dry run, that each guard that would trip would hold the import, with no commands', async () => {
    const source = sourceOf(WOULD_BE, { dryRun: true, outcome: 'imported_with_errors', guards: [MFA] });
    const book = await xlsxOf(source);
    const lines = summaryOf(book);
    expect(valuesOf(lines, 'Would be held')).toEqual([
      '512 users would have Ignore MFA turned on — the limit is 10 (safety.limits.mfaBypass): a real import of this file would be held',
    ]);
    for (const label of ['Held', 'To approve', 'To decline', 'Would have done'])
      expect(valuesOf(lines, label)).toEqual([]);
    expect(book.worksheets.map((ws) => ws.name)).toContain('Held');
  });

  it('names the guards an override let through on an applied import', async () => {
    const applied: Added[] = [[{ row: 2, username: 'bob', status: 'updated', changes: ['ignoreMfa'] }]];
    const lines = summaryOf(await xlsxOf(sourceOf(applied, { guards: [MFA], allowed: ['mfaBypass', 'deactivate'] })));
    expect(valuesOf(lines, 'Result')).toEqual(['Imported: all 1 row was applied']);
    expect(valuesOf(lines, 'Overridden')).toEqual([
      '512 users would have Ignore MFA turned on — the limit is 10 (safety.limits.mfaBypass); applied anyway',
    ]);
    expect(valuesOf(lines, 'Limits overridden')).toEqual([
      'mfaBypass, deactivate: allowed past their limits for this import (--allow or an approval)',
    ]);
    expect(valuesOf(lines, 'Created')).toEqual([0]);
  });

  it('has no Held sheet and no guard lines when nothing tripped', async () => {
    const book = await xlsxOf(sourceOf(WOULD_BE, { guards: [] }));
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Failed rows', 'Rows']);
    const labels = summaryOf(book).map(([label]) => label);
    for (const label of ['Held', 'Would be held', 'Overridden', 'Users counted', 'Limits overridden'])
      expect(labels).not.toContain(label);
  });

  it('reads a held report dropped back into the inbox from its Failed rows only, without warnings', async () => {
    const file = join(dir, 'hr.report.xlsx');
    await writeXlsxReport(held(), file);
    const { reader, rows } = await readAllRows(file, readSettings());
    expect(reader.header.sheetName).toBe('Failed rows');
    expect(reader.header.warnings).toEqual([]);
    expect(rows.map((r) => r.cells[1])).toEqual(['dee']);
    const sheets = (...names: string[]) => names.map((name) => ({ name, hidden: false }));
    expect(isReportWorkbook(sheets('Summary', 'Failed rows', 'Rows', 'Held'))).toBe(true);
    expect(isReportWorkbook(sheets('Summary', 'Rows', 'Rows (2)', 'Held'))).toBe(true);
    expect(isReportWorkbook(sheets('Summary', 'Held', 'Failed rows', 'Rows'))).toBe(false);
  });
});

describe('guard sentences', () => {
  it('speaks of one user in the singular and names a feed that may set its own limit', () => {
    const one: GuardTrip = { guard: 'passwordReset', limit: 0, planned: 1, users: ['ann'] };
    expect(guardInWords(one)).toBe(
      '1 user would have their password changed — the limit is 0 (safety.limits.passwordReset)',
    );
    expect(guardInWords(DEACTIVATE, 'inbox')).toBe(
      '2 active users would be deactivated — the limit is 50 (safety.limits.deactivate)',
    );
    expect(guardInWords({ ...DEACTIVATE, planned: 1200 }, 'workday')).toBe(
      '1,200 active users would be deactivated — the limit is 50 (safety.limits.deactivate, or limits.deactivate of feed "workday")',
    );
  });

  it('declines with the approve command turned round, and only holds that `usersync holds` decides', () => {
    expect(declineCommand('usersync holds approve 7')).toBe('usersync holds decline 7');
    expect(declineCommand('usersync import hr.xlsx --allow mfaBypass')).toBeUndefined();
    expect(declineCommand(undefined)).toBeUndefined();
  });
});
