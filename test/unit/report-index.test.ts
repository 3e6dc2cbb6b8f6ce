import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryRowSpool, writeReports, type ReportSource } from '../../src/pipeline/report/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-reports-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function source(): Promise<ReportSource> {
  const spool = createMemoryRowSpool();
  spool.add({ row: 2, username: 'ana', status: 'created', changes: [] });
  await spool.finish();
  return {
    summary: {
      importId: 9,
      file: { name: 'hr.xlsx', sha256: 'd', bytes: 1 },
      dryRun: false,
      outcome: 'imported',
      counts: { ...spool.counts },
      warnings: [],
      startedAt: '2026-11-24T10:00:00.000Z',
      finishedAt: '2026-11-24T10:00:00.100Z',
      durationMs: 100,
    },
    rows: () => spool.rows(),
    failedRows: () => spool.failedRows(),
  };
}

describe('writeReports', () => {
  it('writes <stem>.report.json and <stem>.report.xlsx, creating the folder', async () => {
    const out = join(dir, 'reports');
    const paths = await writeReports(await source(), out, '9_hr');
    expect(paths).toEqual({ jsonPath: join(out, '9_hr.report.json'), xlsxPath: join(out, '9_hr.report.xlsx') });
    expect((await readdir(out)).sort()).toEqual(['9_hr.report.json', '9_hr.report.xlsx']);
  });

  it('never overwrites: the next free pair is "<stem>.report (2)", even when only one of the pair exists', async () => {
    await writeFile(join(dir, 'hr.report.xlsx'), 'keep me');
    const second = await writeReports(await source(), dir, 'hr');
    expect(second).toEqual({ jsonPath: join(dir, 'hr.report (2).json'), xlsxPath: join(dir, 'hr.report (2).xlsx') });
    const third = await writeReports(await source(), dir, 'hr');
    expect(third.jsonPath).toBe(join(dir, 'hr.report (3).json'));
    expect(await readFile(join(dir, 'hr.report.xlsx'), 'utf8')).toBe('keep me');
    expect(JSON.parse(await readFile(third.jsonPath, 'utf8'))).toMatchObject({ importId: 9, outcome: 'imported' });
  });
});
