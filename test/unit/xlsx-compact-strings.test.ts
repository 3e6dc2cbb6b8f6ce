import { readFileSync, statSync } from 'node:fs';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { CompactStrings, installCompactSharedStrings } from '../../src/xlsx/sheet/compact-strings.js';
import { readWorkbookInfo } from '../../src/xlsx/sheet/workbook-sheets.js';
import { fixtureDir, writeUsers } from '../fixtures/workbooks.js';

describe('compact shared strings', () => {
  it('gives back every string exactly, across slab boundaries, with any characters', () => {
    const store = new CompactStrings();
    const samples = ['', 'José Ñúñez', '東京', '😀 emoji', 'x'.repeat(40_000), ' spaces kept ', 'a\nb'];
    const texts = Array.from({ length: 120_000 }, (_, i) => `${samples[i % samples.length]}-${i}`);
    for (const text of texts) store.push(text);
    expect(store.size).toBe(texts.length);
    for (const i of [0, 1, 2, 3, 4, 5, 6, 65_537, 119_999]) expect(store.get(i)).toBe(texts[i]);
    expect(store.get(-1)).toBeUndefined();
    expect(store.get(texts.length)).toBeUndefined();
  });

  it('gives back every string exactly when its slabs are spilled to a file, in any order', async () => {
    const fx = await fixtureDir();
    try {
      // Small slabs and a small cache, so slabs are evicted and read back again and again.
      const store = new CompactStrings({ spillTo: fx.path('spill.bin'), slabStrings: 1000, spillCacheChars: 50_000 });
      const samples = ['', 'José Ñúñez', '東京', '😀 emoji', 'x'.repeat(300), ' spaces kept ', 'a\nb', 'ÿ'];
      // Whole slabs of one kind too, so both one-byte and two-byte slabs are written.
      const texts = Array.from({ length: 20_000 }, (_, i) =>
        i < 5000 ? `plain ${i}` : i < 6000 ? `名前 ${i}` : `${samples[i % samples.length]}-${i}`,
      );
      for (const text of texts) store.push(text);
      expect(statSync(fx.path('spill.bin')).size).toBeGreaterThan(0);
      // Cells may be passwords: nothing readable reaches the disk, in either encoding.
      const onDisk = readFileSync(fx.path('spill.bin'));
      for (const secret of ['plain 1234', 'José Ñúñez', '名前 5500']) {
        expect(onDisk.includes(Buffer.from(secret, 'latin1'))).toBe(false);
        expect(onDisk.includes(Buffer.from(secret, 'utf16le'))).toBe(false);
        expect(onDisk.includes(Buffer.from(secret, 'utf8'))).toBe(false);
      }
      // Forwards, and jumping about (one expect each: 25,000 separate ones took seconds).
      expect(texts.map((_, i) => store.get(i))).toEqual(texts);
      const jumps = Array.from({ length: 1500 }, (_, n) => (n * 7919) % texts.length);
      expect(jumps.map((i) => store.get(i))).toEqual(jumps.map((i) => texts[i]));
      expect(store.get(texts.length)).toBeUndefined();
    } finally {
      await fx.cleanup();
    }
  });

  it('joins the runs of a rich-text shared string', () => {
    const store = new CompactStrings();
    store.push({ richText: [{ text: 'Hello ' }, { font: { bold: true }, text: 'World' }] });
    expect(store.get(0)).toBe('Hello World');
  });

  it('stands in for the array exceljs assigns and indexes', () => {
    const reader: { sharedStrings?: unknown[] } = {};
    installCompactSharedStrings(reader);
    expect(reader.sharedStrings).toBeUndefined(); // no shared strings part yet
    reader.sharedStrings = [];
    reader.sharedStrings.push('first');
    reader.sharedStrings.push('second');
    expect(reader.sharedStrings[1]).toBe('second');
    expect(reader.sharedStrings.length).toBe(2);
    expect(Boolean(reader.sharedStrings)).toBe(true); // exceljs tests it for truthiness
  });

  it("serves exceljs' streaming reader the same cell values as its own array", async () => {
    const fx = await fixtureDir();
    try {
      // 3 distinct strings a row: ~18,000 in all, four 5,000-string slabs (the default slab is
      // 65,536 strings; a file that large took longer than the unit timeout on a slow machine).
      const rows = Array.from({ length: 6_000 }, (_, i) => [
        `Name ${i} Ñúñez 東京`,
        `user${i}`,
        `user${i}@example.com`,
        i % 2 ? 'yes' : 'no',
      ]);
      const file = await writeUsers(fx.path('users.xlsx'), [['Name', 'Username', 'E-mail', 'Active'], ...rows]);
      expect((await readWorkbookInfo(file)).sharedStringsBytes).toBeGreaterThan(0);
      const read = async (compact: boolean, spill = false) => {
        const reader = new ExcelJS.stream.xlsx.WorkbookReader(file, { sharedStrings: 'cache', worksheets: 'emit' });
        if (compact)
          installCompactSharedStrings(
            reader,
            spill
              ? { spillTo: fx.path('spill.bin'), slabStrings: 5000, spillCacheChars: 100_000 }
              : { slabStrings: 5000 },
          );
        const values: unknown[] = [];
        for await (const sheet of reader) for await (const row of sheet) values.push(row.values);
        return values;
      };
      const plain = await read(false);
      expect(plain).toHaveLength(rows.length + 1);
      expect(await read(true)).toEqual(plain);
      expect(await read(true, true)).toEqual(plain);
    } finally {
      await fx.cleanup();
    }
  });
});
