import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryRowSpool, createRowSpool, type RowSpool } from '../../src/pipeline/report/row-spool.js';
import { rowRecordJson, toRowRecord } from '../../src/pipeline/report/row-records.js';
import type { FailedRowCells, RowResult, RowStatus } from '../../src/pipeline/report/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-spool-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const STATUSES: RowStatus[] = ['created', 'updated', 'unchanged', 'failed', 'would-create', 'would-update'];

describe.each([
  ['disk', () => createRowSpool(join(dir, 'spool'))],
  ['memory', () => createMemoryRowSpool()],
] as const)('%s row spool', (_kind, make: () => RowSpool) => {
  it('counts would-create as created and would-update as updated', async () => {
    const spool = make();
    STATUSES.forEach((status, i) => spool.add({ row: i + 2, username: `u${i}`, status, changes: [] }));
    expect(spool.counts).toEqual({ rows: 6, created: 2, updated: 2, unchanged: 1, failed: 1, deactivated: 0 });
    await spool.dispose();
  });

  it('gives rows back in order, as often as asked, with only the contract keys', async () => {
    const spool = make();
    const extra = { row: 2, username: 'a', status: 'updated', changes: ['email'], secret: 'x' } as RowResult;
    spool.add(extra);
    spool.add({ row: 3, username: 'b', status: 'failed', changes: [], message: 'bad', code: 'ROW_INVALID_EMAIL' });
    await spool.finish();
    const first = await collect(spool.rows());
    expect(first).toEqual([
      { row: 2, username: 'a', status: 'updated', changes: ['email'] },
      { row: 3, username: 'b', status: 'failed', changes: [], message: 'bad', code: 'ROW_INVALID_EMAIL' },
    ]);
    expect(await collect(spool.rows())).toEqual(first);
    await spool.dispose();
  });

  it('reads back only changed and failed rows when asked, whatever the text of a username or message', async () => {
    const spool = make();
    spool.add({ row: 2, username: 'same', status: 'unchanged', changes: [] });
    spool.add({ row: 3, username: 'x","status":"unchanged', status: 'created', changes: [] });
    spool.add({
      row: 4,
      username: 'unchanged',
      status: 'failed',
      changes: [],
      message: 'was "status":"unchanged" before',
    });
    spool.add({ row: 5, username: 'y', status: 'updated', changes: ['email'] });
    await spool.finish();
    expect((await collect(spool.rows({ exceptUnchanged: true }))).map((r) => r.row)).toEqual([3, 4, 5]);
    expect((await collect(spool.rows())).map((r) => r.row)).toEqual([2, 3, 4, 5]);
    await spool.dispose();
  });

  it('never keeps a password among failed cells, and lists a failed row given without cells', async () => {
    const spool = make();
    const cells = { name: 'Ana', username: 'ana', password: 'hunter22', phone: '+55' } as FailedRowCells['cells'];
    spool.add({ row: 2, username: 'ana', status: 'failed', changes: [] }, { row: 2, cells, error: 'E-mail invalid' });
    spool.add({ row: 3, username: 'bob', status: 'failed', changes: [], message: 'Duplicate of row 2' });
    spool.add({ row: 4, username: 'cy', status: 'created', changes: [] });
    await spool.finish();
    expect(await collect(spool.failedRows())).toEqual([
      { row: 2, cells: { name: 'Ana', username: 'ana', phone: '+55' }, error: 'E-mail invalid' },
      { row: 3, cells: { username: 'bob' }, error: 'Duplicate of row 2' },
    ]);
    await spool.dispose();
  });
});

describe('disk row spool', () => {
  it('round-trips 200,000 rows in order through owner-only files and removes them on dispose', async () => {
    const spool = createRowSpool(join(dir, 'spool'));
    const n = 200_000;
    for (let i = 0; i < n; i += 1) {
      const failed = i % 1000 === 0;
      spool.add(
        { row: i + 2, username: `user${i}`, status: failed ? 'failed' : 'created', changes: [] },
        failed ? { row: i + 2, cells: { username: `user${i}` }, error: 'x' } : undefined,
      );
      if (i % 5000 === 0) await spool.ready();
    }
    await spool.finish();
    expect(spool.counts).toEqual({ rows: n, created: n - 200, updated: 0, unchanged: 0, failed: 200, deactivated: 0 });

    const [spoolDir] = await readdir(join(dir, 'spool'));
    const files = await readdir(join(dir, 'spool', spoolDir ?? ''));
    for (const file of files) expect((await stat(join(dir, 'spool', spoolDir ?? '', file))).mode & 0o777).toBe(0o600);

    let expected = 2;
    for await (const row of spool.rows()) {
      expect(row.row).toBe(expected);
      expected += 1;
    }
    expect(expected).toBe(n + 2);
    let failedCount = 0;
    for await (const failed of spool.failedRows()) {
      expect(failed.row).toBe(failedCount * 1000 + 2);
      failedCount += 1;
    }
    expect(failedCount).toBe(200);

    await spool.dispose();
    expect(await readdir(join(dir, 'spool'))).toEqual([]);
  });

  it('refuses to read rows back before finish()', async () => {
    const spool = createRowSpool(join(dir, 'spool'));
    expect(() => spool.rows()).toThrow(/finish/);
    await spool.dispose();
  });

  it('does not read a spool of only unchanged rows back to list its changes', async () => {
    const spool = createRowSpool(dir);
    for (let row = 2; row < 1000; row++) spool.add({ row, username: `u${row}`, status: 'unchanged', changes: [] });
    await spool.finish();
    expect(await collect(spool.rows({ exceptUnchanged: true }))).toEqual([]);
    // Nothing left to read: the spool folder is gone, and the answer is the same.
    await rm(dir, { recursive: true, force: true });
    expect(await collect(spool.rows({ exceptUnchanged: true }))).toEqual([]);
    await spool.dispose();
  });
});

describe('rowRecordJson', () => {
  it('writes exactly JSON.stringify(toRowRecord(row)), whatever the row carries', () => {
    const rows = [
      { row: 2, username: 'ana', status: 'created', changes: ['name', 'email'] },
      {
        row: 3,
        username: 'bo"b\\ \u2028 😀 \u0001',
        status: 'failed',
        changes: [],
        message: 'Row 3: "x" <y> \n z',
        code: 'ROW_INVALID_EMAIL',
      },
      {
        row: 4,
        username: '',
        status: 'unchanged',
        changes: [],
        message: undefined,
        raw: { row: 4, cells: ['secret'] },
      },
      { row: 5, username: 'zé', status: 'would-update', changes: ['roles'], code: 'X' },
    ] as unknown as RowResult[];
    for (const row of rows) expect(rowRecordJson(row)).toBe(JSON.stringify(toRowRecord(row)));
  });
});
