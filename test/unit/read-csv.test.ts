import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRow } from '../../src/domain/columns.js';
import { openSpreadsheet, type ReadSettings, type SpreadsheetReader } from '../../src/pipeline/read/index.js';
import { BATCH_ROWS } from '../../src/pipeline/read/row-sink.js';
import { writeCsv } from '../fixtures/build.js';
import { fixtureDir, readSettings } from '../fixtures/workbooks.js';
import { readAllRows, rejection } from '../helpers/read.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

let counter = 0;
async function readCsv(
  content: string | Buffer,
  settings: ReadSettings = readSettings(),
): Promise<{ reader: SpreadsheetReader; rows: RawRow[] }> {
  return readAllRows(await writeCsv(fx.path(`f${counter++}.csv`), content), settings);
}

/** [name, username, phone] of each row. */
const nup = (rows: RawRow[]) => rows.map((r) => [r.row, r.cells[0], r.cells[1], r.cells[5]]);

describe('CSV reader', () => {
  it.each([
    ['comma', 'Name,Username,Phone\nAnn Lee,ann,123\n'],
    ['semicolon', 'Name;Username;Phone\nAnn Lee;ann;123\n'],
    ['tab', 'Name\tUsername\tPhone\nAnn Lee\tann\t123\n'],
  ])('detects the %s delimiter', async (_name, text) => {
    const { reader, rows } = await readCsv(text);
    expect(reader.header).toMatchObject({
      format: 'csv',
      sheetName: null,
      headerRow: 1,
      columns: ['name', 'username', 'phone'],
      encoding: 'utf-8',
    });
    expect(nup(rows)).toEqual([[2, 'Ann Lee', 'ann', '123']]);
  });

  it('is not fooled by delimiters inside quotes', async () => {
    const { rows } = await readCsv('Name;Username;Roles\n"Lee, Ann";ann;"Agent, Admin"\n');
    expect(rows[0]?.cells.slice(0, 2)).toEqual(['Lee, Ann', 'ann']);
    expect(rows[0]?.cells[8]).toBe('Agent, Admin');
  });

  it('reads UTF-8 with a BOM', async () => {
    const { reader, rows } = await readCsv('\uFEFFName,Username\nJosé,jose\n');
    expect(reader.header.headers).toEqual(['Name', 'Username']);
    expect(nup(rows)).toEqual([[2, 'José', 'jose', undefined]]);
  });

  it('falls back to Windows-1252 when the bytes are not UTF-8', async () => {
    const bytes = Buffer.concat([
      Buffer.from('Nome;Usuário\n'.replace('á', '\u00e1'), 'latin1'),
      Buffer.from([0x4a, 0x6f, 0x73, 0xe9, 0x3b, 0x6a, 0x6f, 0x73, 0x65, 0x0a]),
    ]);
    const { reader, rows } = await readCsv(bytes);
    expect(reader.header.encoding).toBe('windows-1252');
    expect(reader.header.columns).toEqual(['name', 'username']);
    expect(nup(rows)).toEqual([[2, 'José', 'jose', undefined]]);
    expect(reader.header.warnings.join(' ')).toContain('Windows-1252');
  });

  it('keeps every value as text', async () => {
    const { rows } = await readCsv('Name,Username,Phone,Department\n00123,+5511987654321,1e3,0x1F\n');
    expect(rows[0]?.cells.slice(0, 6)).toEqual(['00123', '+5511987654321', undefined, '0x1F', undefined, '1e3']);
  });

  it('cleans cells like spreadsheet cells', async () => {
    const { rows } = await readCsv('Name,Username\n\u00A0Ann\u00A0Lee ,\u200Bann\uFEFF\n');
    expect(rows[0]?.cells.slice(0, 2)).toEqual(['Ann Lee', 'ann']);
  });

  it('numbers rows by line, with the header below title lines, multi-line fields and CRLF', async () => {
    const text = 'Users export\r\n\r\nName,Username,Roles\r\nAnn,ann,"Agent\r\nAdmin"\r\n\r\n,,\r\nBo,bo,\r\n';
    const { reader, rows } = await readCsv(text);
    expect(reader.header.headerRow).toBe(3);
    expect(rows.map((r) => [r.row, r.cells[1]])).toEqual([
      [4, 'ann'],
      [8, 'bo'],
    ]);
    expect(rows[0]?.cells[8]).toBe('Agent\r\nAdmin');
  });

  it('lists unknown columns as warnings', async () => {
    const { reader } = await readCsv('Name,Username,Cost centre\nAnn,ann,1\n');
    expect(reader.header.warnings).toEqual(['Column "Cost centre" (C) is not a template column and was ignored.']);
  });

  it('rejects header problems', async () => {
    expect((await rejection(readCsv('Name,Username,Email,E-mail\na,b,c,d\n'))).code).toBe('FILE_DUPLICATE_COLUMN');
    expect((await rejection(readCsv('Username,Email\na,b\n'))).code).toBe('FILE_NO_NAME_COLUMN');
    expect((await rejection(readCsv('Name,Email\na,b\n'))).code).toBe('FILE_NO_USERNAME_COLUMN');
    expect((await rejection(readCsv('hello world\nfoo\n'))).code).toBe('FILE_NO_HEADER');
  });

  it('rejects a header without data rows', async () => {
    const error = await rejection(readCsv('Name,Username\n\n , \n'));
    expect([error.code, error.message]).toEqual(['FILE_NO_DATA_ROWS', expect.stringContaining('line 1')]);
  });

  it('rejects more rows than import.maxRows', async () => {
    const text = `Name,Username\n${Array.from({ length: 10 }, (_, i) => `n${i},u${i}`).join('\n')}\n`;
    expect((await rejection(readCsv(text, readSettings({ maxRows: 9 })))).code).toBe('FILE_TOO_MANY_ROWS');
    expect((await readCsv(text, readSettings({ maxRows: 10 }))).rows).toHaveLength(10);
  });

  it('streams large files in batches', async () => {
    const lines = ['Name,Username'];
    const rows = 2 * BATCH_ROWS + BATCH_ROWS / 2;
    for (let i = 0; i < rows; i++) lines.push(`User ${i},user${i}`);
    const reader = await openSpreadsheet(await writeCsv(fx.path('big.csv'), lines.join('\n')), readSettings());
    const sizes: number[] = [];
    for await (const batch of reader.batches()) sizes.push(batch.length);
    expect(sizes).toEqual([BATCH_ROWS, BATCH_ROWS, BATCH_ROWS / 2]);
  });
});
