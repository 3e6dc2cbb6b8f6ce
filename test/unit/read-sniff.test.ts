import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import CFB from 'cfb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersyncError } from '../../src/errors.js';
import { isZipComplete, sniffFile } from '../../src/pipeline/read/index.js';
import { fixtureDir, patchDeclaredSize, readSettings, writeUsers, writeZip } from '../fixtures/workbooks.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
let xlsx: string;
beforeAll(async () => {
  fx = await fixtureDir();
  xlsx = await writeUsers(fx.path('ok.xlsx'), [
    ['Name', 'Username'],
    ['Ann', 'ann'],
  ]);
});
afterAll(() => fx.cleanup());

async function rejection(path: string, settings = readSettings()): Promise<UsersyncError> {
  try {
    await sniffFile(path, settings);
  } catch (error) {
    if (error instanceof UsersyncError) return error;
    throw error;
  }
  throw new Error(`expected ${path} to be rejected`);
}

async function bytes(name: string, content: string | Uint8Array): Promise<string> {
  await writeFile(fx.path(name), content);
  return fx.path(name);
}

function compoundFile(streams: Record<string, string>): Buffer {
  const container = CFB.utils.cfb_new();
  for (const [name, content] of Object.entries(streams)) CFB.utils.cfb_add(container, name, Buffer.from(content));
  return CFB.write(container, { type: 'buffer' }) as Buffer;
}

describe('sniffing by content', () => {
  it('accepts an .xlsx by content whatever its name, and text as CSV', async () => {
    expect(await sniffFile(xlsx, readSettings())).toMatchObject({ kind: 'xlsx' });
    const renamed = await bytes('users.xls', await readFile(xlsx));
    expect(await sniffFile(renamed, readSettings())).toMatchObject({ kind: 'xlsx' });
    expect(await sniffFile(await bytes('csv.xlsx', 'Name,Username\nAnn,ann\n'), readSettings())).toMatchObject({
      kind: 'csv',
    });
  });

  it('rejects missing paths, directories, empty and too large files', async () => {
    expect((await rejection(fx.path('nope.xlsx'))).code).toBe('FILE_NOT_FOUND');
    await mkdir(fx.path('dir.xlsx'));
    expect((await rejection(fx.path('dir.xlsx'))).code).toBe('FILE_NOT_FOUND');
    expect((await rejection(await bytes('empty.xlsx', ''))).code).toBe('FILE_EMPTY');
    const large = await rejection(xlsx, readSettings({ maxFileBytes: 100 }));
    expect(large.code).toBe('FILE_TOO_LARGE');
    expect(large.message).toContain('import.maxFileBytes allows 100');
  });

  it('rejects a truncated zip as corrupt, and isZipComplete says so', async () => {
    const whole = await readFile(xlsx);
    const cut = await bytes('cut.xlsx', whole.subarray(0, Math.floor(whole.length / 2)));
    const error = await rejection(cut);
    expect(error.code).toBe('FILE_CORRUPT');
    expect(error.message).toContain('truncated');
    expect(await isZipComplete(cut)).toBe(false);
    expect(await isZipComplete(xlsx)).toBe(true);
    expect(await isZipComplete(await bytes('plain.csv', 'a,b\n'))).toBe(true);
  });

  it('rejects a zip bomb from its declared sizes without inflating it', async () => {
    const total = fx.path('bomb-total.xlsx');
    await writeFile(total, await readFile(xlsx));
    // 4 GiB declared for the sheet (ratio check off here, so the total check is the one that trips).
    await patchDeclaredSize(total, 'xl/worksheets/sheet1.xml', 0xfffffff0);
    const started = Date.now();
    const error = await rejection(total, readSettings({ maxCompressionRatio: 1e12 }));
    expect(error.code).toBe('FILE_ZIP_BOMB');
    expect(error.message).toContain('import.maxUncompressedBytes');
    expect(Date.now() - started).toBeLessThan(1000);

    const ratio = fx.path('bomb-ratio.xlsx');
    await writeFile(ratio, await readFile(xlsx));
    await patchDeclaredSize(ratio, 'xl/worksheets/sheet1.xml', 100 * 1024 * 1024);
    const ratioError = await rejection(ratio);
    expect(ratioError.code).toBe('FILE_ZIP_BOMB');
    expect(ratioError.message).toContain('xl/worksheets/sheet1.xml');
  });

  it('names other zip-based documents', async () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ '[Content_Types].xml': '<Types/>', 'xl/workbook.bin': 'x' }, 'FILE_XLSB', '.xlsb'],
      [{ mimetype: 'application/vnd.oasis.opendocument.spreadsheet', 'content.xml': '<x/>' }, 'FILE_ODS', '.ods'],
      [
        { mimetype: 'application/vnd.oasis.opendocument.text', 'content.xml': '<x/>' },
        'FILE_NOT_SPREADSHEET',
        'opendocument.text',
      ],
      [{ 'Index/Document.iwa': 'x', 'Metadata/Properties.plist': 'x' }, 'FILE_NUMBERS', 'Numbers'],
      [{ '[Content_Types].xml': '<Types/>', 'word/document.xml': '<w/>' }, 'FILE_NOT_SPREADSHEET', 'Word document'],
      [{ '[Content_Types].xml': '<Types/>', 'ppt/presentation.xml': '<p/>' }, 'FILE_NOT_SPREADSHEET', 'PowerPoint'],
      [{ 'users.xlsx': 'x' }, 'FILE_NOT_SPREADSHEET', 'unzip it'],
      [{ 'readme.txt': 'x' }, 'FILE_NOT_SPREADSHEET', 'zip archive'],
      [
        {
          '[Content_Types].xml': '<Types/>',
          'xl/workbook.xml': '<workbook/>',
          'xl/worksheets/Sheet_A.xml': '<worksheet/>',
        },
        'FILE_UNSUPPORTED_LAYOUT',
        'save it again',
      ],
    ];
    for (const [i, [entries, code, text]] of cases.entries()) {
      const error = await rejection(await writeZip(fx.path(`zip-${i}.xlsx`), entries));
      expect([error.code, error.message]).toEqual([code, expect.stringContaining(text)]);
    }
  });

  it('names OLE compound files: encrypted, legacy .xls, other Office documents', async () => {
    const encrypted = await rejection(
      await bytes('enc.xlsx', compoundFile({ EncryptionInfo: 'x', EncryptedPackage: 'y' })),
    );
    expect([encrypted.code, encrypted.message]).toEqual([
      'FILE_ENCRYPTED',
      expect.stringContaining('password-protected'),
    ]);
    expect((await rejection(await bytes('old.xls', compoundFile({ Workbook: 'x' })))).code).toBe('FILE_LEGACY_XLS');
    expect((await rejection(await bytes('old5.xls', compoundFile({ Book: 'x' })))).code).toBe('FILE_LEGACY_XLS');
    const doc = await rejection(await bytes('doc.xls', compoundFile({ WordDocument: 'x' })));
    expect([doc.code, doc.message]).toEqual(['FILE_NOT_SPREADSHEET', expect.stringContaining('Word document (.doc)')]);
    const broken = await rejection(
      await bytes('broken.xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 1, 2, 3])),
    );
    expect(broken.code).toBe('FILE_CORRUPT');
  });

  it('names HTML and XML files disguised as spreadsheets', async () => {
    const html = await rejection(
      await bytes('report.xls', '<!DOCTYPE html><html><body><table><tr><td>Name</td></tr></table></body></html>'),
    );
    expect([html.code, html.message]).toEqual([
      'FILE_NOT_SPREADSHEET',
      expect.stringContaining('HTML page disguised as a spreadsheet'),
    ]);
    expect(html.message).toContain('.xlsx');
    const xml2003 = await rejection(
      await bytes(
        'users.xml.xls',
        '<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
      ),
    );
    expect([xml2003.code, xml2003.message]).toEqual([
      'FILE_NOT_SPREADSHEET',
      expect.stringContaining('XML Spreadsheet 2003'),
    ]);
  });

  it('names SYLK files but keeps a CSV whose header starts with ID;', async () => {
    const slk = await rejection(await bytes('sylk.xls', 'ID;PWXL;N;E\r\nP;PGeneral\r\nC;Y1;X1;K"Name"\r\nE\r\n'));
    expect([slk.code, slk.message]).toEqual(['FILE_NOT_SPREADSHEET', expect.stringContaining('SYLK')]);
    expect(await sniffFile(await bytes('id.csv', 'ID;Name;Username\n1;Ann;ann\n'), readSettings())).toMatchObject({
      kind: 'csv',
    });
  });

  it('names other binary and non-UTF-8 text files', async () => {
    expect((await rejection(await bytes('doc.xlsx', '%PDF-1.7\n...'))).message).toContain('PDF');
    expect(
      (await rejection(await bytes('u16.csv', Buffer.from('\uFEFFName,Username\n', 'utf16le')))).message,
    ).toContain('UTF-16');
    expect(
      (await rejection(await bytes('u16nobom.csv', Buffer.from('Name,Username\nAnn,ann\n', 'utf16le')))).message,
    ).toContain('UTF-16');
    expect((await rejection(await bytes('bin.xlsx', Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 0, 9])))).code).toBe(
      'FILE_NOT_SPREADSHEET',
    );
    expect((await rejection(await bytes('biff4.xls', Buffer.from([0x09, 0x04, 0x06, 0x00, 0, 0, 0x10, 0])))).code).toBe(
      'FILE_LEGACY_XLS',
    );
  });
});

// Real files from other tools (/work/shared/corpus, see its README). Not part of the repo.
const CORPUS = resolve(import.meta.dirname, '../../../shared/corpus');
const hasCorpus = existsSync(join(CORPUS, 'MANIFEST.tsv'));
if (!hasCorpus) console.warn(`SKIPPING corpus sniff tests: ${CORPUS} is absent`);

describe.skipIf(!hasCorpus)('sniffing real files from the corpus', () => {
  const cases: Array<[string, string]> = [
    ['apache_poi__test-data__hpsf__TestUnicode.xls', 'FILE_LEGACY_XLS'],
    // cfb 1.2.2's CFB.read() aborts the whole process on this one (V8 "invalid size" fatal error).
    ['ExcelDataReader_ExcelDataReader__src__TestData__Test_git_issue_382_oom.xls', 'FILE_LEGACY_XLS'],
    ['tafia_calamine__tests__capitalized_wbook_stream.xls', 'FILE_LEGACY_XLS'],
    ['apache_poi__test-data__poifs__protect.xlsx', 'FILE_ENCRYPTED'],
    ['apache_poi__test-data__poifs__60320-protected.xlsx', 'FILE_ENCRYPTED'],
    ['apache_poi__test-data__spreadsheet__62815.xlsb', 'FILE_XLSB'],
    ['python-excel_xlrd__tests__samples__sample.ods', 'FILE_ODS'],
    ['SheetJS_test_files__Attendance.numbers', 'FILE_NUMBERS'],
    ['exceljs_exceljs__spec__integration__data__numbers.numbers', 'FILE_NUMBERS'],
    ['apache_poi__test-data__openxml4j__invalid.xlsx', 'FILE_NOT_SPREADSHEET'],
    ['apache_poi__test-data__spreadsheet__SampleSS.xml', 'FILE_NOT_SPREADSHEET'],
    ['theorchard_openpyxl__openpyxl__reader__tests__data__null_file.xlsx', 'FILE_EMPTY'],
    ['frictionlessdata_frictionless-py__data__compression__implicit-gz.csv', 'FILE_NOT_SPREADSHEET'],
    ['openspout_openspout__tests__resources__xlsx__file_corrupted.xlsx', 'csv'],
  ];
  it.each(cases)('%s → %s', async (name, expected) => {
    const path = join(CORPUS, name);
    if (expected === 'csv') {
      expect(await sniffFile(path, readSettings())).toMatchObject({ kind: 'csv' });
      return;
    }
    expect((await rejection(path)).code).toBe(expected);
  });
});
