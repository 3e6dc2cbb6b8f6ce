/**
 * Regressions found by the corpus and fuzz tests (test/integration/corpus.test.ts, fuzz.test.ts):
 * damaged, truncated and oddly built files must be rejected at once with a message that says what
 * is wrong — never wait for the watchdog, never import part of a file as if it were whole, never
 * garble a name.
 */
import { readFile, writeFile } from 'node:fs/promises';
import JSZip from 'jszip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsersyncError } from '../../src/errors.js';
import { openSpreadsheet, sniffFile } from '../../src/pipeline/read/index.js';
import { classifyParseError } from '../../src/xlsx/xlsx-errors.js';
import { FileError } from '../../src/errors.js';
import { TEMPLATE, writeCsv } from '../fixtures/build.js';
import { fixtureDir, inlineCell, readSettings, writeCraftedXlsx, writeUsers, writeZip } from '../fixtures/workbooks.js';
import { readAllRows, rejection } from '../helpers/read.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

/** A watchdog long enough that only a real hang would reach it. */
const patient = readSettings({ parseTimeoutMs: 60_000 });

const readAll = async (path: string): Promise<UsersyncError> => rejection(readAllRows(path, patient));

/** Rewrites one entry of a zip through `edit` (or removes it when `edit` returns undefined). */
async function editEntry(
  path: string,
  name: string,
  edit: (content: Buffer) => Buffer | string | undefined,
): Promise<string> {
  const zip = await JSZip.loadAsync(await readFile(path));
  const content = edit(await zip.file(name)!.async('nodebuffer'));
  if (content === undefined) zip.remove(name);
  else zip.file(name, content);
  await writeFile(path, await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }));
  return path;
}

/** Sets the first byte of an entry's compressed data to 0xFF: deflate block type 3, which does not exist. */
async function breakDeflateData(path: string, name: string): Promise<string> {
  const bytes = await readFile(path);
  for (let at = 0; at + 30 < bytes.length; at++) {
    if (bytes.readUInt32LE(at) !== 0x04034b50) continue;
    const nameLength = bytes.readUInt16LE(at + 26);
    if (bytes.subarray(at + 30, at + 30 + nameLength).toString('utf8') !== name) continue;
    bytes[at + 30 + nameLength + bytes.readUInt16LE(at + 28)] = 0xff;
    await writeFile(path, bytes);
    return path;
  }
  throw new Error(`${name} not found in ${path}`);
}

const users = (n: number) => [TEMPLATE, ...Array.from({ length: n }, (_, i) => [`User ${i}`, `user${i}`])];

describe('damaged workbooks are rejected at once', () => {
  // unzipper reports an inflate error on its Parse stream only; exceljs waited on the entry until
  // import.parseTimeoutMs (10 minutes by default).
  it('rejects a sheet whose compressed data is damaged as FILE_CORRUPT, stored before or after the shared strings', async () => {
    const before = await breakDeflateData(
      await writeUsers(fx.path('deflate-exceljs.xlsx'), users(200)),
      'xl/worksheets/sheet1.xml',
    );
    const sheetData = users(50)
      .map(
        (r, i) =>
          `<row r="${i + 1}">${r.map((v, c) => inlineCell(`${String.fromCharCode(65 + c)}${i + 1}`, v)).join('')}</row>`,
      )
      .join('');
    const after = await breakDeflateData(
      await writeCraftedXlsx(fx.path('deflate-crafted.xlsx'), sheetData, ['unused']),
      'xl/worksheets/sheet1.xml',
    );
    for (const path of [before, after]) {
      const started = Date.now();
      const error = await readAll(path);
      expect([error.code, error.message]).toEqual(['FILE_CORRUPT', expect.stringContaining('cannot be unpacked')]);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });

  // exceljs' parse-sax never called saxes' close(): the rows before the cut were imported as the whole file.
  it('rejects a sheet whose XML is cut short instead of importing the rows before the cut', async () => {
    const rows = users(6)
      .map(
        (r, i) =>
          `<row r="${i + 1}">${r.map((v, c) => inlineCell(`${String.fromCharCode(65 + c)}${i + 1}`, v)).join('')}</row>`,
      )
      .join('');
    const path = await writeCraftedXlsx(fx.path('cut.xlsx'), rows);
    await editEntry(path, 'xl/worksheets/sheet1.xml', (xml) => {
      const text = xml.toString('utf8');
      return text.slice(0, text.indexOf('<row r="5"'));
    });
    const error = await readAll(path);
    expect([error.code, error.message]).toEqual(['FILE_CORRUPT', expect.stringContaining('cut short')]);
  });

  it('says the shared texts are missing rather than "no header row"', async () => {
    const path = await editEntry(
      await writeUsers(fx.path('no-sst.xlsx'), users(3)),
      'xl/sharedStrings.xml',
      () => undefined,
    );
    const error = await readAll(path);
    expect([error.code, error.message]).toEqual(['FILE_CORRUPT', expect.stringContaining('xl/sharedStrings.xml')]);
  });

  it('names UTF-16 XML parts (Excel Mobile) instead of calling them invalid', async () => {
    const path = await writeCraftedXlsx(
      fx.path('utf16.xlsx'),
      `<row r="1">${inlineCell('A1', 'Name')}${inlineCell('B1', 'Username')}</row>`,
    );
    await editEntry(path, 'xl/workbook.xml', (xml) =>
      Buffer.concat([
        Buffer.from([0xff, 0xfe]),
        Buffer.from(xml.toString('utf8').replace('UTF-8', 'UTF-16'), 'utf16le'),
      ]),
    );
    const error = await readAll(path);
    expect([error.code, error.message]).toEqual(['FILE_UNSUPPORTED_LAYOUT', expect.stringContaining('UTF-16')]);
  });

  it('calls an element where none belongs damage, and keeps the namespace message for prefixed parts', async () => {
    const odd = await writeCraftedXlsx(fx.path('odd-element.xlsx'), `<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, [
      'Name',
    ]);
    await editEntry(odd, 'xl/_rels/workbook.xml.rels', (xml) =>
      xml.toString('utf8').replace('</Relationships>', '<bogus/></Relationships>'),
    );
    const error = await readAll(odd);
    expect([error.code, error.message]).toEqual(['FILE_PARSE_FAILED', expect.stringContaining('<bogus>')]);
    const prefixed = await writeCraftedXlsx(fx.path('prefixed.xlsx'), `<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, [
      'Name',
    ]);
    await editEntry(prefixed, 'xl/_rels/workbook.xml.rels', (xml) =>
      xml.toString('utf8').replace('</Relationships>', '<x:bogus xmlns:x="urn:x"/></Relationships>'),
    );
    expect([(await readAll(prefixed)).code, (await readAll(prefixed)).message]).toEqual([
      'FILE_UNSUPPORTED_LAYOUT',
      expect.stringContaining('namespace prefixes'),
    ]);
  });

  it('calls a saxes error such as an unmatched closing tag invalid XML', async () => {
    const path = await writeCraftedXlsx(
      fx.path('unmatched.xlsx'),
      `<row r="1">${inlineCell('A1', 'Name')}</row></row>`,
    );
    const error = await readAll(path);
    expect(error.code).toMatch(/^FILE_(PARSE_FAILED|CORRUPT)$/);
    expect(error.message).toMatch(/invalid XML|malformed XML/);
  });
});

describe('text is decoded across chunk boundaries', () => {
  // exceljs decoded each chunk on its own: a character split across two chunks became two U+FFFD.
  it('reads every accented name exactly, however long the shared strings part is', async () => {
    const names = Array.from({ length: 3000 }, (_, i) => `José Ñúñez Ção ${i} ${'é'.repeat(i % 7)}`.trim());
    const path = await writeUsers(fx.path('accents.xlsx'), [TEMPLATE, ...names.map((name, i) => [name, `u${i}`])]);
    const { rows } = await readAllRows(path, patient);
    expect(rows.map((r) => r.cells[0])).toEqual(names);
  });
});

describe('sniffing names what a file is', () => {
  const sniffError = async (path: string): Promise<UsersyncError> => rejection(sniffFile(path, readSettings()));

  it('tells apart workbooks with parts outside xl/, .xlsb parts anywhere, sheets without workbook.xml, a workbook without sheets and ODS without mimetype', async () => {
    const types = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>';
    const moved = await writeZip(fx.path('moved.xlsx'), {
      '[Content_Types].xml': types,
      '_rels/.rels': '<x/>',
      'wtf/workbook.xml': '<x/>',
      'wtf/worksheets/sheet1.xml': '<x/>',
    });
    expect((await sniffError(moved)).code).toBe('FILE_UNSUPPORTED_LAYOUT');
    const xlsb = await writeZip(fx.path('moved.xlsb'), { '[Content_Types].xml': types, 'wtf/workbook.bin': 'x' });
    expect((await sniffError(xlsb)).code).toBe('FILE_XLSB');
    const headless = await writeZip(fx.path('headless.xlsx'), {
      'xl/_rels/workbook.xml.rels': '<x/>',
      'xl/worksheets/sheet1.xml': '<x/>',
    });
    expect([(await sniffError(headless)).code, (await sniffError(headless)).message]).toEqual([
      'FILE_CORRUPT',
      expect.stringContaining('xl/workbook.xml'),
    ]);
    const sheetless = await writeZip(fx.path('sheetless.xlsx'), {
      '[Content_Types].xml': types,
      'xl/workbook.xml': '<x/>',
      'xl/styles.xml': '<x/>',
    });
    expect([(await sniffError(sheetless)).code, (await sniffError(sheetless)).message]).toEqual([
      'FILE_CORRUPT',
      expect.stringContaining('no worksheet part'),
    ]);
    const ods = await writeZip(fx.path('nomime.ods'), { 'content.xml': '<x/>', 'META-INF/manifest.xml': '<x/>' });
    expect((await sniffError(ods)).code).toBe('FILE_ODS');
  });

  it('says a CSV with NUL bytes is damaged text, and keeps "binary" for binary files', async () => {
    const nul = await writeCsv(fx.path('nul.csv'), Buffer.from('Name,Username\nAnn,a\0nn\nBo,bo\n'));
    expect((await sniffError(nul)).message).toMatch(/looks like a text \(CSV\) file, but it contains 1 NUL byte/);
    const bmp = Buffer.alloc(4096, 0xff);
    bmp.write('BM', 0, 'latin1');
    bmp.fill(0, 2, 60);
    expect((await sniffError(await writeCsv(fx.path('image.xls'), bmp))).message).toContain('binary file');
  });

  it('names UTF-32 text without a byte-order mark and a bare BIFF8 stream', async () => {
    const utf32 = Buffer.alloc(4 * 40);
    Buffer.from('Name,Username\r\nAnn,ann\r\nBo,bo\r\nCy,cy\r\n').forEach((b, i) => utf32.writeUInt32BE(b, i * 4));
    expect((await sniffError(await writeCsv(fx.path('u32.csv'), utf32))).message).toContain('UTF-32');
    const biff8 = await writeCsv(
      fx.path('bare.xls'),
      Buffer.from([0x09, 0x08, 0x10, 0x00, 0x00, 0x06, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    expect((await sniffError(biff8)).code).toBe('FILE_LEGACY_XLS');
  });
});

describe('CSV errors in words', () => {
  it('says which line opens a quote that is never closed', async () => {
    const path = await writeCsv(fx.path('quote.csv'), 'Name,Username\nAnn,ann\n"Bo,bo\nCy,cy\n');
    const error = await rejection(readAllRows(path, readSettings()));
    expect([error.code, error.message]).toEqual([
      'FILE_PARSE_FAILED',
      expect.stringContaining('quote (") opened in the record starting at line 3 is never closed'),
    ]);
  });

  it('says a record is too long, not "Max Record Size"', async () => {
    const path = await writeCsv(fx.path('long.csv'), `Name,Username\nAnn,ann\nBo,"${'x'.repeat(1_100_000)}"\n`);
    const error = await rejection(readAllRows(path, readSettings()));
    expect([error.code, error.message]).toEqual([
      'FILE_PARSE_FAILED',
      expect.stringContaining('the record starting at line 3 is longer than'),
    ]);
  });
});

// openSpreadsheet is what the pipeline calls: the header errors must come from it too.
it('rejects a damaged sheet through openSpreadsheet as well', async () => {
  const path = await breakDeflateData(
    await writeUsers(fx.path('deflate-open.xlsx'), users(10)),
    'xl/worksheets/sheet1.xml',
  );
  expect((await rejection(openSpreadsheet(path, patient))).code).toBe('FILE_CORRUPT');
});

describe("reader failures that are not the file's", () => {
  it("a full disk or a permission error on the reader's temp files is FS_IO_FAILED, not a file error", () => {
    for (const code of ['ENOSPC', 'EACCES', 'EROFS']) {
      const error = classifyParseError(Object.assign(new Error(`${code}: failed, write`), { code }));
      expect(error.code).toBe('FS_IO_FAILED');
      expect(error).not.toBeInstanceOf(FileError); // so the daemon retries instead of sending it to error/
    }
    expect(classifyParseError(Object.assign(new Error('invalid signature'), { code: 'Z_DATA_ERROR' })).code).toBe(
      'FILE_CORRUPT',
    );
  });
});
