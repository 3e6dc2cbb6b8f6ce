import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRow } from '../../src/domain/columns.js';
import { CELL_ERRORS } from '../../src/xlsx/sheet/cell-to-text.js';
import { openSpreadsheet, type ReadSettings } from '../../src/pipeline/read/index.js';
import { TEMPLATE } from '../fixtures/build.js';
import {
  fixtureDir,
  inlineCell,
  readSettings,
  writeCraftedXlsx,
  writeLargeWorkbook,
  writeUsers,
  writeWorkbook,
} from '../fixtures/workbooks.js';
import { readAllRows, rejection } from '../helpers/read.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

const readAll = (path: string, settings: ReadSettings = readSettings()) => readAllRows(path, settings);

/** cells[] as a record of the non-blank ones, for readable assertions. */
const cellsOf = (row: RawRow | undefined) =>
  Object.fromEntries(
    TEMPLATE.flatMap((name, i) => (row?.cells[i] === undefined || row.cells[i] === '' ? [] : [[name, row.cells[i]]])),
  );

describe('xlsx reader: header', () => {
  it('reads a shared-strings part of over a MB with 1- to 4-byte characters whole, wherever its pieces are cut', async () => {
    // ~1.4 MB of strings: decoded in several pieces (shared-strings.ts), characters across their ends.
    const name = (i: number) => `Ñame ${i} 東京 😀 ${'é'.repeat(i % 7)}.`;
    const count = 12_000;
    const path = await writeLargeWorkbook(fx.path('multibyte-strings.xlsx'), count, (i) => [
      name(i),
      `user${i}`,
      '',
      '',
      `user${i}@example.com`,
    ]);
    const { rows } = await readAll(path);
    expect(rows).toHaveLength(count);
    rows.forEach((row, i) => expect(row.cells.slice(0, 2)).toEqual([name(i + 1), `user${i + 1}`]));
  });

  it('reads the template, its columns in file order and its row numbers', async () => {
    const path = await writeUsers(fx.path('template.xlsx'), [
      TEMPLATE,
      ['Ann Lee', 'ann', 'secret12', 'Sales', 'ann@example.com', '123', 'Yes', 'No', 'Agent', 'Team A'],
    ]);
    const { reader, rows } = await readAll(path);
    expect(reader.header).toMatchObject({
      format: 'xlsx',
      sheetName: 'Users',
      headerRow: 1,
      headers: TEMPLATE,
      warnings: [],
    });
    expect(reader.header.columns).toHaveLength(10);
    expect(rows).toEqual([
      {
        row: 2,
        cells: ['Ann Lee', 'ann', 'secret12', 'Sales', 'ann@example.com', '123', 'Yes', 'No', 'Agent', 'Team A'],
      },
    ]);
  });

  it('finds a Portuguese, re-spelled and reordered header on row 3 below title rows', async () => {
    const path = await writeUsers(fx.path('pt.xlsx'), [
      ['Lista de usuários — RH'],
      [],
      ['E mail', 'Usuário', 'NOME', 'Grupos de usuários', 'Centro de custo'],
      ['jo@example.com', 'jo', 'Jo Souza', 'Team A', '123'],
    ]);
    const { reader, rows } = await readAll(path);
    expect(reader.header.headerRow).toBe(3);
    expect(reader.header.columns).toEqual(['email', 'username', 'name', 'groups']);
    expect(reader.header.warnings).toEqual(['Column "Centro de custo" (E) is not a template column and was ignored.']);
    expect(rows).toHaveLength(1);
    expect(cellsOf(rows[0])).toEqual({
      Name: 'Jo Souza',
      Username: 'jo',
      'E-mail': 'jo@example.com',
      'User group': 'Team A',
    });
  });

  it('uses operator aliases', async () => {
    const path = await writeUsers(fx.path('alias.xlsx'), [
      ['Full name', 'Login'],
      ['Ann', 'ann'],
    ]);
    const { rows } = await readAll(path, readSettings({ headerAliases: { Login: 'Username' } }));
    expect(cellsOf(rows[0])).toEqual({ Name: 'Ann', Username: 'ann' });
  });

  it('rejects the same column twice', async () => {
    const path = await writeUsers(fx.path('dup.xlsx'), [
      ['Name', 'Username', 'Email', 'E-mail'],
      ['a', 'b', 'c', 'd'],
    ]);
    const error = await rejection(openSpreadsheet(path, readSettings()));
    expect(error.code).toBe('FILE_DUPLICATE_COLUMN');
    expect(error.message).toContain('"Email" in column C and "E-mail" in column D');
  });

  it('rejects a header without Name, without Username, or no header at all', async () => {
    const noName = await writeUsers(fx.path('noname.xlsx'), [
      ['Username', 'E-mail'],
      ['a', 'b'],
    ]);
    expect((await rejection(openSpreadsheet(noName, readSettings()))).code).toBe('FILE_NO_NAME_COLUMN');
    const noUser = await writeUsers(fx.path('nouser.xlsx'), [
      ['Name', 'E-mail', 'Phone'],
      ['a', 'b', 'c'],
    ]);
    const error = await rejection(openSpreadsheet(noUser, readSettings()));
    expect(error.code).toBe('FILE_NO_USERNAME_COLUMN');
    expect(error.message).toContain('row 1 of sheet "Users"');
    const none = await writeUsers(fx.path('none.xlsx'), [['hello'], ['world']]);
    expect((await rejection(openSpreadsheet(none, readSettings()))).code).toBe('FILE_NO_HEADER');
  });

  it('does not look for the header below row 10', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => [`title ${i}`]);
    const path = await writeUsers(fx.path('deep.xlsx'), [...rows, ['Name', 'Username'], ['a', 'b']]);
    expect((await rejection(openSpreadsheet(path, readSettings()))).code).toBe('FILE_NO_HEADER');
  });

  it('rejects a header without data rows when the batches are read', async () => {
    const path = await writeUsers(fx.path('empty.xlsx'), [['Name', 'Username'], [], ['', '  ']]);
    const reader = await openSpreadsheet(path, readSettings());
    const error = await rejection(
      (async () => {
        for await (const _ of reader.batches());
      })(),
    );
    expect(error.code).toBe('FILE_NO_DATA_ROWS');
    expect(error.message).toContain('row 1 of sheet "Users"');
  });
});

describe('xlsx reader: sheets', () => {
  it('reads the first sheet with a header and names the others in warnings', async () => {
    const path = await writeWorkbook(fx.path('sheets.xlsx'), [
      { name: 'Notes', rows: [['Fill in one user per row.']] },
      {
        name: 'Secret',
        rows: [
          ['Name', 'Username'],
          ['hidden', 'h'],
        ],
        state: 'hidden',
      },
      {
        name: 'Users',
        rows: [
          ['Name', 'Username'],
          ['Ann', 'ann'],
        ],
      },
      { name: 'Lists', rows: [['Yes'], ['No']] },
    ]);
    const { reader, rows } = await readAll(path);
    expect(reader.header.sheetName).toBe('Users');
    expect(rows.map((r) => r.cells[1])).toEqual(['ann']);
    expect(reader.header.warnings).toEqual([
      'Sheet "Notes" was ignored: only the first sheet with a header row ("Users") is read.',
      'Hidden sheet "Secret" was ignored.',
      'Sheet "Lists" was ignored: only the first sheet with a header row ("Users") is read.',
    ]);
  });
});

describe('xlsx reader: cell values', () => {
  it('reads values as Excel users make them', async () => {
    const path = await writeUsers(fx.path('values.xlsx'), [
      TEMPLATE,
      [
        { richText: [{ text: 'Ana ' }, { font: { bold: true }, text: 'Souza' }] },
        '\u200Bana\u00A0',
        null,
        ' Sales ',
        { text: 'ana@example.com', hyperlink: 'mailto:ana@example.com' },
        5511987654321,
        true,
        false,
        { formula: 'UPPER("agent")', result: 'AGENT' },
        { error: '#N/A' },
      ],
      ['Bo', 'bo', null, null, null, { formula: '1-1', result: 0 }, { formula: 'TRUE()', result: 1 }],
    ]);
    const { rows } = await readAll(path);
    expect(rows[0]).toEqual({
      row: 2,
      cells: [
        'Ana Souza',
        'ana',
        undefined,
        'Sales',
        'ana@example.com',
        '5511987654321',
        'TRUE',
        'FALSE',
        'AGENT',
        { error: '#N/A' },
      ],
    });
    expect(cellsOf(rows[1])).toEqual({ Name: 'Bo', Username: 'bo', Phone: '0', Active: 'TRUE' });
  });

  it('reads every run of an inline rich-text string, without its phonetic guide', async () => {
    // exceljs kept only the last run ("Lee"); Japanese inline strings carry <rPh> readings.
    const rich = '<is><r><rPr><b/></rPr><t xml:space="preserve">Ann </t></r><r><t>Lee</t></r></is>';
    const phonetic = '<is><t>山田</t><rPh sb="0" eb="2"><t>ヤマダ</t></rPh></is>';
    const path = await writeCraftedXlsx(
      fx.path('inline-rich.xlsx'),
      `<row r="1">${inlineCell('A1', 'Name')}${inlineCell('B1', 'Username')}</row>` +
        `<row r="2"><c r="A2" t="inlineStr">${rich}</c>${inlineCell('B2', 'ann')}</row>` +
        `<row r="3"><c r="A3" t="inlineStr">${phonetic}</c>${inlineCell('B3', 'yamada')}</row>`,
    );
    const { rows } = await readAll(path);
    expect(rows.map(cellsOf)).toEqual([
      { Name: 'Ann Lee', Username: 'ann' },
      { Name: '山田', Username: 'yamada' },
    ]);
  });

  it('fails cells whose formula has no saved result or an error result', async () => {
    const path = await writeCraftedXlsx(
      fx.path('formulas.xlsx'),
      `<row r="1">${inlineCell('A1', 'Name')}${inlineCell('B1', 'Username')}${inlineCell('C1', 'Phone')}${inlineCell('D1', 'Active')}</row>` +
        `<row r="2">${inlineCell('A2', 'Ann')}${inlineCell('B2', 'ann')}<c r="C2"><f>VLOOKUP(A2,X:Y,2,0)</f></c><c r="D2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>` +
        `<row r="3">${inlineCell('A3', 'Bo')}${inlineCell('B3', 'bo')}<c r="C3" t="str"><f>"5511"&amp;"9"</f><v>55119</v></c><c r="D3"><f>FALSE()</f></c></row>`,
    );
    const { rows } = await readAll(path);
    expect(rows[0]?.cells.slice(5, 7)).toEqual([{ error: CELL_ERRORS.noResult }, { error: CELL_ERRORS.errorResult }]);
    expect(rows[1]?.cells.slice(5, 7)).toEqual(['55119', 'FALSE']);
  });

  it('skips blank rows and keeps spreadsheet row numbers', async () => {
    const path = await writeUsers(fx.path('blank.xlsx'), [
      ['Name', 'Username'],
      ['a', 'a'],
      [],
      ['', ' '],
      ['b', 'b'],
      [null, null, 'only an unknown column'],
    ]);
    const { rows } = await readAll(path);
    expect(rows.map((r) => r.row)).toEqual([2, 5]);
  });

  it('marks a cell longer than import.maxCellChars so its row fails', async () => {
    const path = await writeUsers(fx.path('long.xlsx'), [
      ['Name', 'Username'],
      ['x'.repeat(50), 'ann'],
    ]);
    const { rows } = await readAll(path, readSettings({ maxCellChars: 20 }));
    expect(rows[0]?.cells[0]).toEqual({
      error: 'a value longer than 20 characters (import.maxCellChars)',
      tooLong: true,
    });
  });

  it('rejects rows without their position as an unsupported layout', async () => {
    const path = await writeCraftedXlsx(
      fx.path('no-r.xlsx'),
      `<row><c t="inlineStr"><is><t>Name</t></is></c><c t="inlineStr"><is><t>Username</t></is></c></row>`,
    );
    const error = await rejection(openSpreadsheet(path, readSettings()));
    expect(error.code).toBe('FILE_UNSUPPORTED_LAYOUT');
    expect(error.message).toContain('save it again');
  });
});

describe('xlsx reader: limits', () => {
  it('rejects more data rows than import.maxRows', async () => {
    const path = await writeUsers(fx.path('rows.xlsx'), [
      ['Name', 'Username'],
      ...Array.from({ length: 6 }, (_, i) => [`n${i}`, `u${i}`]),
    ]);
    const reader = await openSpreadsheet(path, readSettings({ maxRows: 5 }));
    const error = await rejection(
      (async () => {
        for await (const _ of reader.batches());
      })(),
    );
    expect(error.code).toBe('FILE_TOO_MANY_ROWS');
  });

  it('stops after import.maxEmptyRows blank rows and says so', async () => {
    const rows: unknown[][] = [
      ['Name', 'Username'],
      ['a', 'a'],
    ];
    rows[20] = ['late', 'late'];
    const path = await writeUsers(
      fx.path('gap.xlsx'),
      Array.from(rows, (r) => (r ?? []) as never[]),
    );
    const { reader, rows: read } = await readAll(path, readSettings({ maxEmptyRows: 5 }));
    expect(read.map((r) => r.row)).toEqual([2]);
    expect(reader.header.warnings.at(-1)).toContain('Reading stopped at row 21');
  });
});
