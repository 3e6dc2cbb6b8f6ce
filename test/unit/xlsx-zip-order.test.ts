import { open, readFile, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireFromExceljs } from '../../src/xlsx/exceljs-require.js';
import { PARTS_BEFORE_SHEETS, reorderedWorkbookStream } from '../../src/xlsx/zip/zip-order.js';
import {
  directoryEntries,
  fixtureDir,
  readSettings,
  writeCraftedXlsx,
  writeUsers,
  writeZip,
} from '../fixtures/workbooks.js';
import { readAllRows } from '../helpers/read.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

interface UnzipEntry extends Readable {
  path: string;
}
const unzipper = requireFromExceljs('unzipper') as {
  Parse: (options: { forceStream: true }) => NodeJS.ReadWriteStream & AsyncIterable<UnzipEntry>;
};

/** Each entry's name and inflated bytes, as unzipper's streaming parse (exceljs' zip reader) reads them. */
async function streamedEntries(stream: Readable): Promise<Array<[string, Buffer]>> {
  const parse = unzipper.Parse({ forceStream: true });
  stream.pipe(parse);
  const entries: Array<[string, Buffer]> = [];
  for await (const entry of parse) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.push([entry.path, Buffer.concat(chunks)]);
  }
  return entries;
}

async function reordered(path: string): Promise<Readable | undefined> {
  const fh = await open(path, 'r');
  const stream = await reorderedWorkbookStream(fh, (await fh.stat()).size);
  if (stream === undefined) await fh.close();
  else stream.once('close', () => void fh.close());
  return stream;
}

describe('zip order: the parts a sheet needs first', () => {
  it("moves the shared strings, styles and relationships of an exceljs-written workbook before its sheet, every entry's bytes intact", async () => {
    const path = await writeUsers(fx.path('exceljs.xlsx'), [
      ['Name', 'Username'],
      ['Ann Lee', 'ann'],
    ]);
    const original = await directoryEntries(path);
    const names = original.map(([name]) => name);
    // exceljs' writer (like Excel) puts the sheet first: the case this is for.
    expect(names.indexOf('xl/worksheets/sheet1.xml')).toBeLessThan(names.indexOf('xl/sharedStrings.xml'));

    const stream = await reordered(path);
    expect(stream).toBeDefined();
    const moved = await streamedEntries(stream!);
    const first = PARTS_BEFORE_SHEETS.filter((name) => names.includes(name));
    expect(moved.map(([name]) => name)).toEqual([...first, ...names.filter((name) => !first.includes(name as never))]);
    expect(new Map(moved)).toEqual(new Map(original));
  });

  it('leaves a workbook alone whose parts already precede its sheets, and a zip it cannot lay out safely', async () => {
    const ordered = await writeCraftedXlsx(fx.path('ordered.xlsx'), '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', [
      'Username',
    ]);
    expect(await reordered(ordered)).toBeUndefined();

    // Bytes before the first entry (a self-extractor stub): offsets no longer start at 0.
    const sheetFirst = await writeUsers(fx.path('sheet-first.xlsx'), [['Username'], ['ann']]);
    const prefixed = fx.path('prefixed.xlsx');
    await writeFile(prefixed, Buffer.concat([Buffer.from('MZ stub '), await readFile(sheetFirst)]));
    expect(await reordered(prefixed)).toBeUndefined();

    const notZip = fx.path('not-a-zip.xlsx');
    await writeFile(notZip, 'Username\nann\n');
    expect(await reordered(notZip)).toBeUndefined();
  });

  it('reads dates right in a workbook whose styles come after its sheet', async () => {
    // Shared strings before the sheet, styles after it: exceljs streamed the sheet before it knew
    // that style 1 is a date format, and the date came through as the serial number 45356.
    const ns = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
    const rel = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
    const path = await writeZip(fx.path('styles-late.xlsx'), {
      '[Content_Types].xml':
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
      'xl/_rels/workbook.xml.rels':
        `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
        `<Relationship Id="rId1" Type="${rel}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${rel}/styles" Target="styles.xml"/></Relationships>`,
      'xl/workbook.xml': `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${ns}" xmlns:r="${rel}"><sheets><sheet name="Users" sheetId="1" r:id="rId1"/></sheets></workbook>`,
      'xl/sharedStrings.xml': `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${ns}"><si><t>Username</t></si><si><t>Name</t></si><si><t>ann</t></si></sst>`,
      'xl/worksheets/sheet1.xml':
        `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${ns}"><sheetData>` +
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>' +
        '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" s="1"><v>45356</v></c></row></sheetData></worksheet>',
      'xl/styles.xml':
        `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="${ns}"><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>` +
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/></cellXfs></styleSheet>',
    });
    const { rows } = await readAllRows(path, readSettings());
    expect(rows).toHaveLength(1);
    expect(rows[0]?.cells[0]).toBe('2024-03-05'); // Name column, first in the template
    expect(rows[0]?.cells[1]).toBe('ann');
  });
});
