import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSpreadsheet } from '../../src/pipeline/read/index.js';
import { BATCH_ROWS } from '../../src/pipeline/read/row-sink.js';
import { TEMP_PREFIX } from '../../src/xlsx/reader/xlsx-reader.js';
import { holdLeanHeap, leanHeapHeld } from '../../src/xlsx/memory-mode.js';
import { fixtureDir, inlineCell, readSettings, writeCraftedXlsx, writeLargeWorkbook } from '../fixtures/workbooks.js';
import { rejection } from '../helpers/read.js';

// A private TMPDIR for this test file, so "no temp files left behind" is checked without
// interference from other test files (vitest runs each file in its own process).
let privateTmp: string;
let savedTmp: string | undefined;
let fx: Awaited<ReturnType<typeof fixtureDir>>;
let big: string;
const ROWS = 30_000;

beforeAll(async () => {
  fx = await fixtureDir();
  big = await writeLargeWorkbook(fx.path('big.xlsx'), ROWS);
  privateTmp = await mkdtemp(join(tmpdir(), 'usersync-read-worker-test-'));
  savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
}, 60_000);
afterAll(async () => {
  process.env.TMPDIR = savedTmp;
  if (savedTmp === undefined) delete process.env.TMPDIR;
  await rm(privateTmp, { recursive: true, force: true });
  await fx.cleanup();
});

async function leftovers(): Promise<string[]> {
  return (await readdir(privateTmp)).filter((name) => name.startsWith(TEMP_PREFIX));
}

/** Files in a reader's temp directory other than tsx's compile cache (tests run the worker's TypeScript). */
async function sheetCopies(dir: string): Promise<string[]> {
  return (await readdir(join(privateTmp, dir), { recursive: true })).filter((name) => !name.startsWith('tsx-'));
}

describe('xlsx worker', () => {
  it("reads a file above the lean-memory threshold the same, with its worker's young generation capped", async () => {
    const reader = await openSpreadsheet(big, readSettings(), { leanMemoryAboveBytes: 0 });
    let rows = 0;
    let last = 1;
    try {
      for await (const batch of reader.batches()) {
        for (const row of batch) expect(row.row).toBe(++last);
        rows += batch.length;
      }
    } finally {
      await reader.close();
    }
    expect(rows).toBe(ROWS);
    expect(await leftovers()).toEqual([]);
  });

  it('keeps the lean heap while any holder has it, and releases each holder once', () => {
    const first = holdLeanHeap();
    const second = holdLeanHeap();
    first();
    first();
    expect(leanHeapHeld()).toBe(true);
    second();
    expect(leanHeapHeld()).toBe(false);
  });

  it('reads a large file in batches, streaming its sheet with no copy in its temp directory', async () => {
    const reader = await openSpreadsheet(big, readSettings());
    // The sheet is stored before sharedStrings.xml; exceljs would copy it to a temp file (named
    // tmp-…) while waiting for them, but the reader hands it the shared strings first (zip-order.ts).
    // The worker is paused mid-sheet (no credit), so a copy would still be there.
    const [dir] = await leftovers();
    expect(dir).toBeDefined();
    expect(await sheetCopies(dir!)).toEqual([]);
    let rows = 0;
    let last = 1; // the header row
    for await (const batch of reader.batches()) {
      for (const row of batch) expect(row.row).toBe(++last); // in file order, none lost
      rows += batch.length;
    }
    expect(rows).toBe(ROWS);
    expect(await leftovers()).toEqual([]);
  });

  it('streams the sheet of a workbook without shared strings (inline strings only), never copying it to disk', async () => {
    // Such a sheet waited in a temp file for a shared-strings part that never comes: its cells,
    // passwords included, were on disk for the whole read.
    const rows = Array.from(
      { length: 20_000 },
      (_, i) =>
        `<row r="${i + 2}">${inlineCell(`A${i + 2}`, `User ${i}`)}${inlineCell(`B${i + 2}`, `user${i}`)}${inlineCell(`C${i + 2}`, `Secret-${i}`)}</row>`,
    );
    const header = `<row r="1">${inlineCell('A1', 'Name')}${inlineCell('B1', 'Username')}${inlineCell('C1', 'Password')}</row>`;
    const file = await writeCraftedXlsx(fx.path('inline.xlsx'), header + rows.join(''));
    const reader = await openSpreadsheet(file, readSettings());
    const [dir] = await leftovers();
    expect(await sheetCopies(dir!)).toEqual([]);
    let count = 0;
    for await (const batch of reader.batches()) count += batch.length;
    expect(count).toBe(rows.length);
    expect(await leftovers()).toEqual([]);
  });

  it('stops a parse that runs past import.parseTimeoutMs and removes its temp files', async () => {
    const error = await rejection(openSpreadsheet(big, readSettings({ parseTimeoutMs: 50 })));
    expect([error.code, error.message]).toEqual(['FILE_PARSE_TIMEOUT', expect.stringContaining('50 ms')]);
    expect(await leftovers()).toEqual([]);
  });

  it('turns a worker out of memory into FILE_PARSE_OUT_OF_MEMORY without hurting this process', async () => {
    const error = await rejection(openSpreadsheet(big, readSettings({ workerMemoryMb: 4 })));
    expect(error.code).toBe('FILE_PARSE_OUT_OF_MEMORY');
    expect(await leftovers()).toEqual([]);
    // The process is fine: the next file reads normally.
    const reader = await openSpreadsheet(big, readSettings());
    await reader.close();
  });

  it('closes early, idempotently, and leaves nothing behind', async () => {
    const reader = await openSpreadsheet(big, readSettings());
    for await (const batch of reader.batches()) {
      expect(batch.length).toBe(BATCH_ROWS);
      break; // the iterator's finally closes the reader
    }
    await reader.close();
    await reader.close();
    expect(await leftovers()).toEqual([]);
  });

  it('keeps memory flat while the consumer is slow (the worker waits for credit)', async () => {
    // The consumer's pauses add up to 6 s, twice the timeout; parsing alone needs far less,
    // with room for a loaded CI machine.
    const reader = await openSpreadsheet(big, readSettings({ parseTimeoutMs: 3000 }));
    let batches = 0;
    for await (const _ of reader.batches()) {
      batches++;
      // A consumer slower than parsing: without pausing the watchdog this would time out.
      await new Promise((resolve) => setTimeout(resolve, 6000 / (ROWS / BATCH_ROWS)));
    }
    expect(batches).toBe(ROWS / BATCH_ROWS);
  });
});
