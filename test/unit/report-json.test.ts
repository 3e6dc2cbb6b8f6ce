import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryRowSpool, createRowSpool, type RowSpool } from '../../src/pipeline/report/row-spool.js';
import type { ReportSource, ReportSummary, RowResult } from '../../src/pipeline/report/types.js';
import { writeJsonReport } from '../../src/pipeline/report/write-json.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-json-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sourceOf(rows: RowResult[], overrides: Partial<ReportSummary> = {}): ReportSource {
  const spool = createMemoryRowSpool();
  for (const row of rows) spool.add(row);
  const summary: ReportSummary = {
    importId: 12,
    file: { name: 'hr.xlsx', sha256: 'a'.repeat(64), bytes: 2048 },
    dryRun: false,
    outcome: spool.counts.failed > 0 ? 'imported_with_errors' : 'imported',
    counts: { ...spool.counts },
    warnings: ['Column "Cost centre" is not a template column and was ignored.'],
    startedAt: '2026-11-24T10:00:00.000Z',
    finishedAt: '2026-11-24T10:00:02.500Z',
    durationMs: 2500,
    sheetName: 'Users',
    headerRow: 1,
    database: 'mysql://app:s3cret@db/users',
    ...overrides,
  };
  return { summary, rows: () => spool.rows(), failedRows: () => spool.failedRows() };
}

const ROWS: RowResult[] = [
  { row: 2, username: 'ana', status: 'created', changes: [] },
  { row: 3, username: 'bob', status: 'updated', changes: ['email', 'roles'] },
  { row: 5, username: 'cy', status: 'unchanged', changes: [] },
  {
    row: 6,
    username: '',
    status: 'failed',
    changes: [],
    message: 'The Username cell is empty.',
    code: 'ROW_USERNAME_MISSING',
  },
];

describe('writeJsonReport', () => {
  it('writes the SPEC §3 shape with the rows in order', async () => {
    const file = join(dir, 'hr.report.json');
    await writeJsonReport(sourceOf(ROWS), file);
    const report = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;

    expect(Object.keys(report)).toEqual([
      'importId',
      'file',
      'dryRun',
      'outcome',
      'counts',
      'warnings',
      'startedAt',
      'finishedAt',
      'durationMs',
      'sheetName',
      'headerRow',
      'rows',
    ]);
    expect(report).toMatchObject({
      importId: 12,
      file: { name: 'hr.xlsx', sha256: 'a'.repeat(64), bytes: 2048 },
      dryRun: false,
      outcome: 'imported_with_errors',
      counts: { rows: 4, created: 1, updated: 1, unchanged: 1, failed: 1, deactivated: 0 },
      warnings: ['Column "Cost centre" is not a template column and was ignored.'],
    });
    expect(Object.keys(report.counts as object)).toEqual([
      'rows',
      'created',
      'updated',
      'unchanged',
      'failed',
      'deactivated',
    ]);
    expect(report.rows).toEqual([
      { row: 2, username: 'ana', status: 'created', changes: [] },
      { row: 3, username: 'bob', status: 'updated', changes: ['email', 'roles'] },
      { row: 5, username: 'cy', status: 'unchanged', changes: [] },
      {
        row: 6,
        username: '',
        status: 'failed',
        changes: [],
        message: 'The Username cell is empty.',
        code: 'ROW_USERNAME_MISSING',
      },
    ]);
  });

  it('never writes the database URL (it may hold a password)', async () => {
    const file = join(dir, 'r.json');
    await writeJsonReport(sourceOf(ROWS), file);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('database');
  });

  it('explains a rejected file with error and an empty rows array', async () => {
    const file = join(dir, 'r.json');
    const error = { code: 'FILE_LEGACY_XLS', message: 'This is a legacy .xls workbook.' };
    await writeJsonReport(sourceOf([], { outcome: 'rejected', error, importId: null }), file);
    const report = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(report).toMatchObject({ importId: null, outcome: 'rejected', error, rows: [] });
    expect(Object.keys(report.error as object)).toEqual(['code', 'message']);
  });

  it('creates an owner-only file atomically, leaving no temp file behind', async () => {
    const file = join(dir, 'r.json');
    await writeJsonReport(sourceOf(ROWS), file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['r.json']);
  });

  it('streams many rows into valid JSON', async () => {
    const many: RowResult[] = Array.from({ length: 20_000 }, (_, i) => ({
      row: i + 2,
      username: `u${i}`,
      status: 'unchanged',
      changes: [],
    }));
    const file = join(dir, 'r.json');
    await writeJsonReport(sourceOf(many), file);
    const report = JSON.parse(await readFile(file, 'utf8')) as { rows: RowResult[] };
    expect(report.rows).toHaveLength(20_000);
    expect(report.rows.at(-1)).toEqual({ row: 20_001, username: 'u19999', status: 'unchanged', changes: [] });
  });

  it("copies a spool's rows body to the same bytes as rows serialised one by one, from disk or memory", async () => {
    const tricky: RowResult[] = [
      ...ROWS,
      {
        row: 7,
        username: 'quote"line\nbreak',
        status: 'failed',
        changes: [],
        message: '"status":"unchanged" is only text here, ✓ 𝒜',
      },
      ...Array.from({ length: 30_000 }, (_, i): RowResult => ({
        row: i + 8,
        username: `u${i}`,
        status: i % 3 === 0 ? 'unchanged' : 'created',
        changes: i % 3 === 0 ? [] : ['name', 'email'],
      })),
    ];
    for (const rows of [[], ROWS.slice(0, 1), tricky]) {
      const reference = join(dir, 'reference.json');
      await writeJsonReport(sourceOf(rows), reference);
      const expected = await readFile(reference, 'utf8');
      for (const spool of [createRowSpool(join(dir, 'spool')), createMemoryRowSpool()] as RowSpool[]) {
        for (const row of rows) spool.add(row);
        await spool.finish();
        const copied = join(dir, 'copied.json');
        await writeJsonReport({ ...sourceOf(rows), rowsJsonBody: () => spool.rowsJsonBody() }, copied);
        expect(await readFile(copied, 'utf8')).toBe(expected);
        await spool.dispose();
        await rm(copied);
      }
      await rm(reference);
    }
  });

  it('removes the temp file and reports FS_IO_FAILED when the folder does not exist', async () => {
    await expect(writeJsonReport(sourceOf(ROWS), join(dir, 'missing', 'r.json'))).rejects.toMatchObject({
      code: 'FS_IO_FAILED',
    });
  });
});
