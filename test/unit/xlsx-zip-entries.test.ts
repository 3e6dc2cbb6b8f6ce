import { open, readFile, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyParseError } from '../../src/xlsx/xlsx-errors.js';
import { entryParse, type ZipEntryStream } from '../../src/xlsx/zip/zip-entries.js';
import { PARTS_BEFORE_SHEETS } from '../../src/xlsx/zip/zip-order.js';
import {
  directoryEntries,
  fixtureDir,
  patchDeclaredSize,
  pointDirectoryEntryAt,
  readSettings,
  writeCraftedXlsx,
  writeLargeWorkbook,
  writeZip,
} from '../fixtures/workbooks.js';
import { readAllRows } from '../helpers/read.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

const handles: FileHandle[] = [];
afterEach(async () => {
  for (const fh of handles.splice(0)) await fh.close();
});

async function openEntries(path: string): Promise<{ entries: ZipEntryStream[]; errors: Error[] } | undefined> {
  const fh = await open(path, 'r');
  handles.push(fh);
  const errors: Error[] = [];
  const parse = await entryParse(fh, (error) => errors.push(error));
  if (parse === undefined) return undefined;
  const entries: ZipEntryStream[] = [];
  for await (const entry of parse() as AsyncIterable<ZipEntryStream>) entries.push(entry);
  return { entries, errors };
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Overwrites `count` bytes in the middle of an entry's compressed data. */
async function damageEntryData(path: string, name: string, count = 16): Promise<void> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  let start = -1;
  let size = 0;
  for await (const entry of zip.eachEntry()) {
    if (entry.fileName !== name) continue;
    start = (await zip.readLocalFileHeaderPromise(entry, { minimal: true })).fileDataStart;
    size = entry.compressedSize;
  }
  zip.close();
  const bytes = await readFile(path);
  bytes.fill(0xff, start + Math.floor(size / 2) - count / 2, start + Math.floor(size / 2) + count / 2);
  await writeFile(path, bytes);
}

describe('zip entries read by range (exceljs reader’s zip)', () => {
  it('serves the parts a sheet needs first, then the rest in file order, every entry’s bytes intact', async () => {
    // Rows enough for a sheet and shared strings of several 64 KB chunks; exceljs writes the sheet first.
    const path = await writeLargeWorkbook(fx.path('large.xlsx'), 3000);
    const original = await directoryEntries(path);
    const names = original.map(([name]) => name);
    expect(names.indexOf('xl/worksheets/sheet1.xml')).toBeLessThan(names.indexOf('xl/sharedStrings.xml'));
    expect(original.find(([name]) => name === 'xl/worksheets/sheet1.xml')![1].length).toBeGreaterThan(4 * 64 * 1024);

    const opened = await openEntries(path);
    expect(opened).toBeDefined();
    const first = PARTS_BEFORE_SHEETS.filter((name) => names.includes(name));
    expect(opened!.entries.map((e) => e.path)).toEqual([
      ...first,
      ...names.filter((name) => !first.includes(name as never)),
    ]);
    const read = new Map<string, Buffer>();
    for (const entry of opened!.entries) read.set(entry.path, await bytesOf(entry));
    expect(read).toEqual(new Map(original));
    expect(opened!.errors).toEqual([]);
  });

  it('never reads an entry that is autodrained, and fails one whose deflate data is damaged as a damaged file', async () => {
    const path = await writeZip(fx.path('damaged.zip'), {
      'docProps/app.xml': 'x'.repeat(5000) + 'y'.repeat(5000),
      'xl/workbook.xml': '<workbook/>',
    });
    await damageEntryData(path, 'docProps/app.xml');

    const skipped = await openEntries(path);
    for (const entry of skipped!.entries) {
      if (entry.path === 'xl/workbook.xml') expect((await bytesOf(entry)).toString()).toBe('<workbook/>');
      else entry.autodrain(); // the damaged entry, and the folders JSZip lists
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(skipped!.errors).toEqual([]);

    const read = await openEntries(path);
    const damaged = read!.entries.find((e) => e.path === 'docProps/app.xml')!;
    const failure = await bytesOf(damaged).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(read!.errors).toEqual([failure]);
    expect(classifyParseError(failure).code).toBe('FILE_CORRUPT');
  });

  it('fails an entry whose data is longer or shorter than the directory states, naming the entry', async () => {
    for (const [declared, expected] of [
      [10, /xl\/workbook\.xml: too many bytes in the entry: more than the 10/],
      [50_000, /xl\/workbook\.xml: the entry ended after 11 of the 50000 bytes/],
    ] as const) {
      const path = await writeZip(fx.path(`sized-${declared}.zip`), { 'xl/workbook.xml': '<workbook/>' });
      await patchDeclaredSize(path, 'xl/workbook.xml', declared);
      const opened = await openEntries(path);
      const failure = await bytesOf(opened!.entries.find((e) => e.path === 'xl/workbook.xml')!).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure?.message).toMatch(expected);
      expect(classifyParseError(failure).code).toBe('FILE_CORRUPT');
    }
  });

  it('passes a file-system failure on with its own code, so it is never taken for a damaged file', async () => {
    const path = await writeZip(fx.path('io.zip'), { 'xl/workbook.xml': '<workbook/>' });
    const fh = await open(path, 'r');
    const errors: Error[] = [];
    const parse = await entryParse(fh, (error) => errors.push(error));
    const entries: ZipEntryStream[] = [];
    for await (const entry of parse!() as AsyncIterable<ZipEntryStream>) entries.push(entry);
    await fh.close(); // every read of the entry now fails with EBADF
    const failure = await bytesOf(entries.find((e) => e.path === 'xl/workbook.xml')!).then(
      () => undefined,
      (error: Error) => error,
    );
    expect((failure as NodeJS.ErrnoException | undefined)?.code).toBe('EBADF');
    expect(errors).toEqual([failure]);
    expect(classifyParseError(Object.assign(new Error('i/o error'), { code: 'EIO' })).code).toBe('FS_IO_FAILED');
  });

  it('declines what it should not read by range, and the worker then reads the file through unzipper as before', async () => {
    const notZip = fx.path('not-a-zip.xlsx');
    await writeFile(notZip, 'Username\nann\n');
    expect(await openEntries(notZip)).toBeUndefined();

    // Two directory entries pointing at the same data (the overlapping-entries zip bomb's trick),
    // here two parts nobody reads: unzipper's streaming parse goes by the local headers instead.
    const path = await writeCraftedXlsx(
      fx.path('overlap.xlsx'),
      '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>',
      ['Username', 'Name', 'ann', 'Ann Lee'],
    );
    await pointDirectoryEntryAt(path, '_rels/.rels', '[Content_Types].xml');
    expect(await openEntries(path)).toBeUndefined();
    const { rows } = await readAllRows(path, readSettings());
    expect(rows.map((r) => [r.cells[0], r.cells[1]])).toEqual([['Ann Lee', 'ann']]);
  });
});
