/**
 * sheet-events.ts reads plain rows itself and leaves the rest to saxes; sheet-rows.ts must give the
 * same rows, cells and errors (their positions too) either way. Each sheet here is read with the
 * scanner and without it (`scan: false`: all saxes, the reader as it was), whole and cut into chunks
 * of many sizes, so the scanner's stops mid-tag, mid-row and mid-character are crossed too.
 */
// First: the sax fix must replace exceljs' XML reader before exceljs loads (exceljs-sax-fix.ts).
import '../../src/xlsx/patches/exceljs-sax-fix.js';
import { describe, expect, it } from 'vitest';
import { sheetRows, type WorkbookParts } from '../../src/xlsx/sheet/sheet-rows.js';

const workbook: WorkbookParts = {
  sharedStrings: ['Username', 'Name', 'ana', 'Ana Silva', 'José'],
  styles: {
    getStyleModel: (id: number) => (id === 1 ? { numFmt: 'yyyy-mm-dd' } : id === 2 ? { numFmt: '0.00' } : null),
  },
  properties: { model: { date1904: false } },
};

async function read(xml: string, chunk: number, scan: boolean): Promise<unknown> {
  const bytes = Buffer.from(xml, 'utf8');
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  const rows: unknown[] = [];
  try {
    for await (const batch of sheetRows(chunks(), workbook, { scan }))
      rows.push(...batch.map((row) => ({ number: row.number, cells: [...row.cells] })));
  } catch (error) {
    return { rows, error: (error as Error).message };
  }
  return { rows };
}

const sheet = (rows: string, { head = '', tail = '' } = {}) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">${head}<sheetData>${rows}</sheetData>${tail}</worksheet>`;

const plain = (from: number, to: number) =>
  Array.from(
    { length: to - from + 1 },
    (_, k) =>
      `<row r="${from + k}" spans="1:4" x14ac:dyDescent="0.25"><c r="A${from + k}" t="s"><v>${k % 5}</v></c><c r="B${from + k}" s="1"><v>45000</v></c><c r="C${from + k}" t="b"><v>1</v></c><c r="D${from + k}" s="2"/></row>`,
  ).join('');

const CASES: Record<string, string> = {
  'plain rows (what exceljs and Excel write)': sheet(plain(1, 30), {
    head: '<dimension ref="A1:D30"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>',
    tail: '<pageMargins left="0.7" right="0.7"/>',
  }),
  'whitespace and line breaks between and inside elements, quotes of both kinds': sheet(
    `\n  <row r='1' >\n    <c r="A1" t = "s" > <v>2</v>  \n</c >\n <c r="B1" t="str"><v>x y </v>\t</c><c r="C1"/></row >\n  <row r="2"/>\n`,
  ),
  'empty values and cells': sheet(
    '<row r="1"><c r="A1" t="s"><v/></c><c r="B1" t="str"><v></v></c><c r="C1"></c></row>',
  ),
  'an entity in a value mid-sheet': sheet(
    `${plain(1, 5)}<row r="6"><c r="A6" t="str"><v>Tom &amp;amp; Jerry</v></c></row>${plain(7, 9)}`,
  ),
  'a formula mid-sheet': sheet(`${plain(1, 3)}<row r="4"><c r="A4"><f>SUM(B1:B3)</f><v>6</v></c></row>${plain(5, 6)}`),
  'an inline string of several runs': sheet(
    `${plain(1, 2)}<row r="3"><c r="A3" t="inlineStr"><is><r><t>Ann </t></r><r><t>Lee</t></r></is></c></row>${plain(4, 4)}`,
  ),
  'a comment between rows, and one before sheetData': sheet(`${plain(1, 2)}<!-- note -->${plain(3, 4)}`),
  'a comment before sheetData': sheet(plain(1, 3), { head: '<!-- generated -->' }),
  'a carriage return in a value': sheet(`${plain(1, 2)}<row r="3"><c r="A3" t="str"><v>a\r\nb</v></c></row>`),
  'text beside the rows': sheet(`${plain(1, 2)}stray${plain(3, 3)}`),
  'an unknown element in a row': sheet(`${plain(1, 2)}<row r="3"><c r="A3"><v>1</v><extLst/></c></row>${plain(4, 4)}`),
  'rows without r, cells without r, odd references': sheet(
    '<row><c t="s"><v>1</v></c></row><row r="2"><c r="AAAA2"><v>1</v></c></row><row r="x"><c r="B9"><v>2</v></c></row>',
  ),
  'a repeated attribute (saxes refuses the file)': sheet(`${plain(1, 2)}<row r="3" r="4"><c r="A3"><v>1</v></c></row>`),
  'a mismatched close tag': sheet(`${plain(1, 2)}<row r="3"><c r="A3"><v>1</c></v></row>`),
  'an error after rows on lines of their own': sheet(
    `\n${plain(1, 3).replace(/<\/row>/g, '</row>\n  ')}<row r="4">\n<c r="A4"><v>1</c></v></row>`,
  ),
  'an error on the line where the scanner stopped': sheet(`\n${plain(1, 3)}<row r="4"><c r="A4"><v>1</c></v></row>`),
  'a character XML forbids': sheet(`${plain(1, 2)}<row r="3"><c r="A3" t="str"><v>a\u0001b</v></c></row>`),
  ']]> in text': sheet(`${plain(1, 2)}<row r="3"><c r="A3" t="str"><v>a]]>b</v></c></row>`),
  'a part cut short in a row': sheet(plain(1, 4)).slice(0, sheet(plain(1, 4)).indexOf('<row r="3"') + 30),
  'a part cut short after its rows': sheet(plain(1, 4)).slice(0, sheet(plain(1, 4)).indexOf('</sheetData>')),
  'a part cut short after sheetData': sheet(plain(1, 4)).slice(0, -'</worksheet>'.length),
  'prefixed element names': `<?xml version="1.0"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="1"><x:c r="A1" t="s"><x:v>2</x:v></x:c></x:row></x:sheetData></x:worksheet>`,
  'an empty sheetData': sheet('').replace('<sheetData></sheetData>', '<sheetData/>'),
  'non-ASCII text split across chunks': sheet('<row r="1"><c r="A1" t="str"><v>José Ñandú 日本語 😀</v></c></row>'),
  'an empty part': '',
};

describe('sheet-events: plain rows read by the scanner, the rest by saxes, as saxes alone reads them', () => {
  for (const [name, xml] of Object.entries(CASES)) {
    it(name, async () => {
      type Result = { rows: unknown[]; error?: string };
      const whole = (await read(xml, 1 << 20, false)) as Result;
      // In one-byte chunks saxes alone hands on every row completed before an error.
      const before = (await read(xml, 1, false)) as Result;
      for (const chunk of [1 << 20, 1, 2, 3, 7, 16, 61, 257]) {
        const scanned = (await read(xml, chunk, true)) as Result;
        if (whole.error === undefined) {
          expect(scanned, `chunks of ${chunk} bytes`).toEqual(whole);
          continue;
        }
        // The same error, at the same line and column. The rows handed on before it depend on where
        // chunks end (the scanner reports a damaged row once it has all of it): a start of the same rows.
        expect(scanned.error, `chunks of ${chunk} bytes`).toBe(whole.error);
        expect(scanned.rows, `chunks of ${chunk} bytes`).toEqual(before.rows.slice(0, scanned.rows.length));
      }
    });
  }

  it('reads the plain rows itself (the reference is not the same code)', async () => {
    // A row a scanner bug would change: if both ways read it, they must agree; here it is read plainly.
    const result = (await read(sheet(plain(1, 2)), 1 << 20, true)) as {
      rows: Array<{ number: number; cells: unknown[] }>;
    };
    expect(result.rows.map((row) => row.number)).toEqual([1, 2]);
    expect(result.rows[0]?.cells[0]).toEqual({ value: 'Username', result: undefined, numFmt: undefined });
    expect(result.rows[0]?.cells[1]).toMatchObject({ numFmt: 'yyyy-mm-dd' });
    expect((result.rows[0]?.cells[1] as { value: Date }).value).toBeInstanceOf(Date);
    expect(result.rows[0]?.cells[3]).toEqual({ value: null, result: undefined, numFmt: '0.00' });
  });
});
