import ExcelJS from 'exceljs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEMPLATE_HEADERS } from '../../src/domain/columns.js';
import { createMemoryRowSpool, createRowSpool, type RowSpool } from '../../src/pipeline/report/row-spool.js';
import type { FailedRowCells, ReportSource, ReportSummary, RowResult } from '../../src/pipeline/report/types.js';
import { PagedSheet, type ReportCell } from '../../src/pipeline/report/paged-sheet.js';
import { ROWS_HEADERS, writeXlsxReport, type XlsxReportOptions } from '../../src/pipeline/report/write-xlsx.js';
import { javascriptCrc32, nativeCrc32 } from '../../src/xlsx/patches/zip-crc32.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-xlsx-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every entry of a zip as text, to look at the XML exceljs wrote. */
async function unzipText(file: string): Promise<Map<string, string>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true }, (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  const entries = new Map<string, string>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const content = Buffer.concat(chunks);
          // The zip's CRC-32 is zlib's (zip-crc32.ts): every report read here checks it.
          if (crc32(content) !== entry.crc32)
            return reject(new Error(`${entry.fileName}: CRC-32 ${entry.crc32} in the zip, ${crc32(content)} computed`));
          entries.set(entry.fileName, content.toString('utf8'));
          zip.readEntry();
        });
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return entries;
}

type Added = [RowResult, FailedRowCells?];

function sourceOf(rows: Added[], overrides: Partial<ReportSummary> = {}): ReportSource {
  const spool = createMemoryRowSpool();
  for (const [row, cells] of rows) spool.add(row, cells);
  const summary: ReportSummary = {
    importId: 3,
    file: { name: 'hr.xlsx', sha256: 'b'.repeat(64), bytes: 4096 },
    dryRun: false,
    outcome: spool.counts.failed > 0 ? 'imported_with_errors' : 'imported',
    counts: { ...spool.counts },
    warnings: [],
    startedAt: '2026-11-24T10:00:00.000Z',
    finishedAt: '2026-11-24T10:00:04.000Z',
    durationMs: 4000,
    sheetName: 'Users',
    headerRow: 1,
    ...overrides,
  };
  return { summary, rows: () => spool.rows(), failedRows: () => spool.failedRows() };
}

async function writeAndRead(
  source: ReportSource,
  options?: XlsxReportOptions,
): Promise<{ file: string; book: ExcelJS.Workbook }> {
  const file = join(dir, 'hr.report.xlsx');
  await writeXlsxReport(source, file, options);
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  return { file, book };
}

function sheet(book: ExcelJS.Workbook, name: string): ExcelJS.Worksheet {
  const found = book.getWorksheet(name);
  if (!found) throw new Error(`no sheet ${name}`);
  return found;
}

const rowValues = (ws: ExcelJS.Worksheet, n: number): unknown[] => (ws.getRow(n).values as unknown[]).slice(1);
const summaryMap = (ws: ExcelJS.Worksheet): Map<string, unknown> => {
  const map = new Map<string, unknown>();
  ws.eachRow((row) => map.set(String(row.getCell(1).value), row.getCell(2).value));
  return map;
};

const MIXED: Added[] = [
  [{ row: 2, username: 'ana', status: 'created', changes: [] }],
  [{ row: 3, username: 'bob', status: 'updated', changes: ['email', 'phone'] }],
  [{ row: 4, username: 'cy', status: 'unchanged', changes: [] }],
  [
    { row: 5, username: 'dee', status: 'failed', changes: [], message: 'The e-mail address is not valid.' },
    {
      row: 5,
      cells: { name: 'Dee', username: 'dee', email: 'dee@', phone: '5511987654321', active: 'Yes' },
      error: 'The e-mail address is not valid.',
    },
  ],
  [{ row: 6, username: 'eve', status: 'would-create', changes: [] }],
  [{ row: 7, username: 'fay', status: 'would-update', changes: ['name'] }],
];

describe('writeXlsxReport', () => {
  it('computes the zip CRC-32 with zlib, giving what crc-32 gives, chained over chunks as crc32-stream chains them', () => {
    let seedJs = 0;
    let seedNative = 0;
    for (const size of [0, 1, 7, 64, 1000, 65_536, 100_003]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 2654435761 + size) >>> 24;
      expect(nativeCrc32(data)).toBe(javascriptCrc32(data));
      seedJs = javascriptCrc32(data, seedJs);
      seedNative = nativeCrc32(data, seedNative);
      expect(seedNative).toBe(seedJs);
    }
    expect(seedNative).not.toBe(0);
  });

  it('writes Summary, Failed rows and Rows, owner-only and without a temp file', async () => {
    const { file, book } = await writeAndRead(sourceOf(MIXED));
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Failed rows', 'Rows']);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['hr.report.xlsx']);
  });

  it('lists every row but the unchanged ones, with a bold, frozen, filtered header and status colours as conditional formats', async () => {
    const { book } = await writeAndRead(sourceOf(MIXED));
    const rows = sheet(book, 'Rows');
    expect(rowValues(rows, 1)).toEqual(['Row', 'Username', 'Status', 'Changed fields', 'Message']);
    expect(rows.getRow(1).getCell(1).font?.bold).toBe(true);
    expect(rows.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(rows.autoFilter).toBe('A1:E6');
    expect(rowValues(rows, 3)).toEqual([3, 'bob', 'updated', 'email, phone']);
    expect(rowValues(rows, 4)).toEqual([5, 'dee', 'failed', undefined, 'The e-mail address is not valid.']); // cy (unchanged) is not listed
    // One rule per status over the Status column: Excel colours each cell by its value.
    const formats = (
      rows as unknown as {
        conditionalFormattings: Array<{
          ref: string;
          rules: Array<{ formulae: string[]; style: { fill: ExcelJS.FillPattern } }>;
        }>;
      }
    ).conditionalFormattings;
    expect(formats.map((f) => f.ref)).toEqual(['C2:C6']);
    const colours = Object.fromEntries(formats[0]!.rules.map((r) => [r.formulae[0], r.style.fill.bgColor?.argb]));
    expect(colours).toEqual({
      '"created"': 'FFC6EFCE',
      '"would-create"': 'FFE8F6EB',
      '"updated"': 'FFBDD7EE',
      '"would-update"': 'FFDDEBF7',
      '"unchanged"': 'FFD9D9D9',
      '"failed"': 'FFFFC7CE',
    });
  });

  it('lays failed rows out as the import template, Password blank, "Row N: message" in Error', async () => {
    const { book } = await writeAndRead(sourceOf(MIXED));
    const failed = sheet(book, 'Failed rows');
    const templateHeaders = Object.values(TEMPLATE_HEADERS);
    expect(rowValues(failed, 1)).toEqual([...templateHeaders, 'Error']);
    expect(failed.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(failed.autoFilter).toBe('A1:K2');
    const row = failed.getRow(2);
    expect(row.getCell(1).value).toBe('Dee');
    expect(row.getCell(2).value).toBe('dee');
    expect(row.getCell(3).value).toBeNull();
    expect(row.getCell(5).value).toBe('dee@');
    expect(row.getCell(6).value).toBe('5511987654321');
    expect(row.getCell(7).value).toBe('Yes');
    expect(row.getCell(11).value).toBe('Row 5: The e-mail address is not valid.');
    expect(failed.rowCount).toBe(2);
  });

  it('has no Failed rows sheet when no row failed', async () => {
    const { book } = await writeAndRead(sourceOf(MIXED.slice(0, 3)));
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Rows']);
  });

  it('summarises the import in words, with counts as numbers and each warning on its own line', async () => {
    const warnings = ['Sheet "Notes" was ignored.', 'Column "Cost centre" was ignored.'];
    const { book } = await writeAndRead(sourceOf(MIXED, { warnings }));
    const summary = summaryMap(sheet(book, 'Summary'));
    expect(summary.get('Result')).toBe('Imported with errors: 1 row failed, 5 other rows were applied');
    expect(summary.get('File')).toBe('hr.xlsx');
    expect(summary.get('SHA-256')).toBe('b'.repeat(64));
    expect(summary.get('Size (bytes)')).toBe(4096);
    expect(summary.get('Rows read')).toBe(6);
    expect(summary.get('Created')).toBe(2);
    expect(summary.get('Failed')).toBe(1);
    expect(summary.get('Duration')).toBe('4.0 s');
    expect(summary.get('Rows per second')).toBe(2);
    expect(summary.get('Started')).toBe('2026-11-24 10:00:00 UTC');
    expect(summary.get('Sheet read')).toBe('Users');
    expect(summary.get('Warning 1')).toBe(warnings[0]);
    expect(summary.get('Warning 2')).toBe(warnings[1]);
    expect(sheet(book, 'Summary').getRow(2).getCell(1).font?.bold).toBe(true);
  });

  it('explains a rejected file: reason, code and what to do, and a Rows sheet with only its header', async () => {
    const error = {
      code: 'FILE_LEGACY_XLS',
      message: 'This is a legacy .xls workbook (Excel 97-2003), which usersync does not read.',
    };
    const { book } = await writeAndRead(sourceOf([], { outcome: 'rejected', error, importId: null }));
    expect(book.worksheets.map((ws) => ws.name)).toEqual(['Summary', 'Rows']);
    const summary = summaryMap(sheet(book, 'Summary'));
    expect(summary.get('Result')).toBe('Rejected: nothing in this file was imported');
    expect(summary.get('Reason')).toBe(error.message);
    expect(summary.get('Error code')).toBe('FILE_LEGACY_XLS');
    expect(String(summary.get('What to do'))).toMatch(/save it as "Excel Workbook \(\.xlsx\)"/);
    const rows = sheet(book, 'Rows');
    expect(rows.rowCount).toBe(1);
    expect(rowValues(rows, 1)).toEqual(['Row', 'Username', 'Status', 'Changed fields', 'Message']);
  });

  it('escapes formula-like text in every sheet and writes no formulas at all', async () => {
    const evil = ['=HYPERLINK("http://x","y")', '+1', '-2', '@SUM(A1)', '\tcmd'];
    const rows: Added[] = evil.map((text, i) => [
      { row: i + 2, username: text, status: 'failed', changes: [], message: text },
      { row: i + 2, cells: { name: text, username: text, department: text, phone: text, groups: text }, error: text },
    ]);
    const { file, book } = await writeAndRead(
      sourceOf(rows, { warnings: evil, file: { name: '=cmd.xlsx', sha256: 'c', bytes: 1 } }),
    );

    const escaped = evil.map((text) => `'${text}`);
    const rowsSheet = sheet(book, 'Rows');
    const failed = sheet(book, 'Failed rows');
    evil.forEach((_text, i) => {
      expect(rowsSheet.getRow(i + 2).getCell(2).value).toBe(escaped[i]);
      expect(rowsSheet.getRow(i + 2).getCell(5).value).toBe(escaped[i]);
      for (const column of [1, 2, 4, 6, 10]) expect(failed.getRow(i + 2).getCell(column).value).toBe(escaped[i]);
    });
    const summary = summaryMap(sheet(book, 'Summary'));
    expect(summary.get('File')).toBe("'=cmd.xlsx");
    evil.forEach((_text, i) => expect(summary.get(`Warning ${i + 1}`)).toBe(escaped[i]));

    const xml = await unzipText(file);
    const sheets = [...xml.keys()].filter((name) => name.startsWith('xl/worksheets/sheet'));
    expect(sheets).toHaveLength(3);
    for (const name of sheets) expect(xml.get(name)).not.toMatch(/<f[ >]/);
  });

  it('continues in "Rows (2)" and "Failed rows (2)" when a sheet is full', async () => {
    const many: Added[] = Array.from({ length: 7 }, (_, i) => [
      { row: i + 2, username: `u${i}`, status: 'failed', changes: [], message: 'm' },
      { row: i + 2, cells: { username: `u${i}` }, error: 'm' },
    ]);
    const { book } = await writeAndRead(sourceOf(many), { rowsPerSheet: 3 });
    expect(book.worksheets.map((ws) => ws.name)).toEqual([
      'Summary',
      'Failed rows',
      'Failed rows (2)',
      'Failed rows (3)',
      'Rows',
      'Rows (2)',
      'Rows (3)',
    ]);
    const pages = ['Rows', 'Rows (2)', 'Rows (3)'].map((name) => sheet(book, name));
    expect(pages.map((ws) => ws.rowCount)).toEqual([4, 4, 2]);
    expect(pages.map((ws) => ws.getRow(2).getCell(1).value)).toEqual([2, 5, 8]);
    expect(pages.map((ws) => ws.autoFilter)).toEqual(['A1:E4', 'A1:E4', 'A1:E2']);
    expect(rowValues(sheet(book, 'Rows (3)'), 1)).toEqual(['Row', 'Username', 'Status', 'Changed fields', 'Message']);
  });

  it('copies the Rows sheet the spool wrote as rows came, to the same XML as rows added one by one', async () => {
    const rows: Added[] = [
      [{ row: 2, username: 'alice', status: 'created', changes: ['name', 'email'] }],
      [{ row: 3, username: 'same', status: 'unchanged', changes: [] }],
      [{ row: 4, username: '=1+1 & <b> "q"', status: 'failed', changes: [], message: 'Row 4: bad\tvalue\r\nnext 😀' }],
      [{ row: 5, username: 'zé漢字', status: 'would-update', changes: ['roles', 'groups'] }],
      ...Array.from({ length: 3000 }, (_, i): Added => [
        { row: i + 6, username: `u${i}`, status: i % 2 ? 'updated' : 'unchanged', changes: i % 2 ? ['phone'] : [] },
      ]),
    ];
    const sheets = async (source: ReportSource, rowsPerSheet: number) => {
      const file = join(dir, 'r.xlsx');
      await writeXlsxReport(source, file, { rowsPerSheet });
      const parts = await unzipText(file);
      await rm(file);
      parts.delete('docProps/core.xml'); // the time it was written
      return Object.fromEntries(parts);
    };
    for (const [added, rowsPerSheet] of [
      [rows, 1_000_000],
      [rows, 2],
      [rows.slice(1, 2), 1_000_000],
      [[], 1_000_000],
    ] as const) {
      const oneByOne = await sheets(sourceOf([...added]), rowsPerSheet);
      for (const spool of [createRowSpool(join(dir, 'spool')), createMemoryRowSpool()] as RowSpool[]) {
        for (const [row, cells] of added) spool.add(row, cells);
        await spool.finish();
        const copied = await sheets(
          { ...sourceOf([...added]), rowsSheetXml: () => spool.rowsSheetXml() },
          rowsPerSheet,
        );
        expect(copied).toEqual(oneByOne);
        await spool.dispose();
      }
    }
  });

  it('writes unstyled rows as the very XML exceljs writes for them, page by page', async () => {
    const rows: ReportCell[][] = [
      [2, 'alice', 'created', 'name, email', null],
      [3, '=1+1 & <b> "q" \'a\'', 'failed', '', 'Row 3: bad\tvalue\r\nnext line'],
      [4, 'bo😀b \u0001\u0008\u000b\u007f ok', 'updated', 'groups', '+55 11 5555'],
      [5, null, null, null, null],
      [6, 'é漢字', 'would-create', '-x', '@home'],
    ];
    // One creation time for both: docProps/core.xml stamps it to the second, and two writes a
    // second boundary apart would differ there.
    const created = new Date('2026-01-02T03:04:05Z');
    const write = async (file: string, styled: boolean) => {
      const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
        filename: join(dir, file),
        useStyles: true,
        useSharedStrings: false,
      });
      workbook.created = created;
      workbook.modified = created;
      const sheet = new PagedSheet(workbook, { name: 'Rows', headers: ROWS_HEADERS, widths: [8, 28, 14, 40, 80] }, 2);
      // A decorate callback, even one that does nothing, sends the row through exceljs' Row.
      for (const cells of rows) sheet.add(cells, styled ? () => undefined : undefined);
      sheet.close();
      await workbook.commit();
      return unzipText(join(dir, file));
    };
    const byExceljs = await write('exceljs.xlsx', true);
    const direct = await write('direct.xlsx', false);
    expect([...direct.keys()].filter((name) => name.startsWith('xl/worksheets/'))).toHaveLength(3);
    expect(Object.fromEntries(direct)).toEqual(Object.fromEntries(byExceljs));
  });
});
