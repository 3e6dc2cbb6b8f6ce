/**
 * The rows of one worksheet straight from its XML events, read as exceljs' streaming
 * WorksheetReader reads them (lib/stream/xlsx/worksheet-reader.js, 4.4.0) but without its Row and
 * Cell objects. Those objects — a Cell with its address, style merge and Value wrapper for every
 * cell, a Column for every column — cost ~40 % of the reader's CPU (100k template rows: 2.1 s of
 * user CPU instead of 3.5 s), and an import needs only each cell's value.
 *
 * Each cell comes out as the `value` and `result` exceljs' `cell.value` and `cell.result` would
 * give, so cellToText stays the one place a cell becomes text, and its quirks are kept on purpose:
 * a string's entities decoded a second time (xmlDecode), a formula's result parsed as a number
 * unless it is a string, a date only through the cell's style or else its row's, the error exceljs
 * raised for a cell it could not place. A test reads every corpus workbook both ways and compares.
 * One exception: an inline string (`<is>`) is the text of all its runs, phonetic guides left out,
 * where exceljs kept only the last run's (`<r><t>Ann </t></r><r><t>Lee</t></r>` read "Lee").
 *
 * Plain rows do not come as events at all: sheet-events.ts' scanner reads them and calls
 * `plainRows` below, which does what the event handlers do for the same tags.
 */
import { requireFromExceljs } from '../exceljs-require.js';
import type { CellLike } from './cell-to-text.js';
import { sheetEvents, type PlainRows } from './sheet-events.js';

/** A cell as cellToText takes it. */
export interface SheetCell extends CellLike {
  value: unknown;
  result: unknown;
  /** The number format (from the cell's style, else its row's) that decides whether a number is a date. */
  numFmt: unknown;
}

export interface SheetRow {
  /** The row's `r` attribute as parseInt reads it (NaN when it has none). */
  readonly number: number;
  /** Cells by 0-based column; a hole where the row has no `<c>`. */
  readonly cells: Array<SheetCell | undefined>;
}

/** What the sheet needs of exceljs' WorkbookReader, read when the sheet starts (as exceljs does). */
export interface WorkbookParts {
  readonly sharedStrings?: ArrayLike<unknown> | undefined;
  readonly styles: { getStyleModel(id: number): { numFmt?: unknown } | null };
  readonly properties?: { model?: { date1904?: boolean } } | undefined;
}

/**
 * Stands in for the shared-strings table of a workbook that has none (inline strings only), so
 * exceljs streams its sheets instead of copying each to a temp file while it waits for a table
 * that never comes (the copy held the cells, passwords included). Read as no table at all: a
 * cell that refers to a shared string still reads as a missing one.
 */
export const NO_SHARED_STRINGS: readonly unknown[] = Object.freeze([]);

interface ExceljsUtils {
  isDateFmt(format: unknown): boolean;
  excelToDate(serial: number, date1904?: boolean): Date;
  xmlDecode(text: string): string;
}
const utils = requireFromExceljs('exceljs/lib/utils/utils.js') as ExceljsUtils;
const colCache = requireFromExceljs('exceljs/lib/utils/col-cache.js') as {
  decodeAddress(ref: string): { col: number | undefined };
};

interface Tag {
  name: string;
  attributes: Record<string, string | undefined>;
}
interface Text {
  text: string;
}
interface OpenCell {
  ref: string | undefined;
  s: number;
  t: string | undefined;
  f?: Text;
  v?: Text;
}

/**
 * Batches of rows: one per chunk of XML, as exceljs yields its row events. `scan: false` reads the
 * whole part with saxes' events (sheet-events.ts), as the tests' reference.
 */
export async function* sheetRows(
  xml: AsyncIterable<Buffer | string>,
  workbook: WorkbookParts,
  options: { scan?: boolean } = {},
): AsyncGenerator<SheetRow[]> {
  const { sharedStrings, styles } = workbook;
  const date1904 = workbook.properties?.model?.date1904;
  const isDate = dateFormats();
  let inRows = false;
  let row: SheetRow | undefined;
  let rowNumFmt: unknown;
  let c: OpenCell | undefined;
  let current: Text | undefined;
  // Inside <is> (an inline string): the text of its <t> elements, phonetic runs (<rPh>) left out.
  let inline = false;
  let phonetic = false;
  let rows: SheetRow[] = [];
  // Plain rows, read by sheet-events.ts' scanner: what the handlers below do for the same events.
  const plainRows: PlainRows = {
    row(r, s) {
      row = { number: Number.parseInt(r as string, 10), cells: [] };
      rowNumFmt = s ? styles.getStyleModel(Number.parseInt(s, 10))?.numFmt : undefined;
    },
    cell(r, s, t, value) {
      if (row !== undefined)
        setCell(row, {
          ref: r,
          s: Number.parseInt(s as string, 10),
          t,
          ...(value === undefined ? {} : { v: { text: value } }),
        });
    },
    end() {
      if (row !== undefined) rows.push(row);
      row = undefined;
    },
  };
  for await (const events of sheetEvents(xml, plainRows, options)) {
    for (const { eventType, value } of events) {
      if (eventType === 'text') {
        if (current !== undefined) current.text += value as string;
      } else if (eventType === 'opentag') {
        const node = value as Tag;
        switch (node.name) {
          case 'sheetData':
            inRows = true;
            break;
          case 'row':
            if (!inRows) break;
            row = { number: Number.parseInt(node.attributes.r as string, 10), cells: [] };
            rowNumFmt = node.attributes.s
              ? styles.getStyleModel(Number.parseInt(node.attributes.s, 10))?.numFmt
              : undefined;
            break;
          case 'c':
            if (row !== undefined)
              c = { ref: node.attributes.r, s: Number.parseInt(node.attributes.s as string, 10), t: node.attributes.t };
            inline = phonetic = false;
            break;
          case 'f':
            if (c !== undefined) current = c.f = { text: '' };
            break;
          case 'is':
            if (c === undefined) break;
            c.v = { text: '' };
            current = undefined;
            inline = true;
            break;
          case 'rPh':
            phonetic ||= inline;
            break;
          case 't':
            if (c === undefined) break;
            if (inline) current = phonetic ? undefined : c.v;
            else current = c.v = { text: '' };
            break;
          case 'v':
            if (c !== undefined) current = c.v = { text: '' };
            break;
          default:
            break;
        }
      } else {
        switch ((value as Tag).name) {
          case 'sheetData':
            inRows = false;
            break;
          case 't':
            if (inline) current = undefined;
            break;
          case 'rPh':
            phonetic = false;
            break;
          case 'is':
            inline = false;
            current = undefined;
            break;
          case 'row':
            if (row !== undefined) rows.push(row);
            row = undefined;
            break;
          case 'c':
            if (row !== undefined && c !== undefined) {
              setCell(row, c);
              c = undefined;
            }
            inline = phonetic = false;
            break;
          default:
            break;
        }
      }
    }
    if (rows.length > 0) yield rows;
    rows = [];
  }

  /** exceljs' `row.getCell(col)` then its assignments on closing `</c>`. */
  function setCell(target: SheetRow, open: OpenCell): void {
    const col = columnOf(open.ref);
    // Where exceljs' Cell constructor throws (no column, or no valid row number): the same errors.
    if (col === undefined || col < 1) throw new Error('A Cell needs a Row');
    let cell = target.cells[col - 1];
    if (cell === undefined) {
      if (!(Number.isInteger(target.number) && target.number >= 0))
        throw new Error(`Invalid Address: ${open.ref ?? ''}`);
      cell = target.cells[col - 1] = { value: null, result: undefined, numFmt: rowNumFmt };
    }
    if (open.s) {
      const style = styles.getStyleModel(open.s);
      if (style) cell.numFmt = style.numFmt;
    }
    if (open.f !== undefined) {
      const result =
        open.v === undefined
          ? undefined
          : open.t === 'str'
            ? utils.xmlDecode(open.v.text)
            : Number.parseFloat(open.v.text);
      cell.value = open.v === undefined ? { formula: open.f.text } : { formula: open.f.text, result };
      cell.result = result;
      return;
    }
    if (open.v === undefined) return;
    const text = open.v.text;
    cell.result = undefined;
    switch (open.t) {
      case 's': {
        const index = Number.parseInt(text, 10);
        cell.value =
          sharedStrings && sharedStrings !== NO_SHARED_STRINGS ? sharedStrings[index] : { sharedString: index };
        break;
      }
      case 'inlineStr':
      case 'str':
        cell.value = utils.xmlDecode(text);
        break;
      case 'e':
        cell.value = { error: text };
        break;
      case 'b':
        cell.value = Number.parseInt(text, 10) !== 0;
        break;
      default:
        cell.value = isDate(cell.numFmt)
          ? utils.excelToDate(Number.parseFloat(text), date1904)
          : Number.parseFloat(text);
        break;
    }
  }
}

/** The column of a cell reference: `A1`-style by character codes, anything else as exceljs decodes it. */
function columnOf(ref: string | undefined): number | undefined {
  if (ref === undefined) return colCache.decodeAddress(ref as unknown as string).col; // throws, as exceljs did
  let col = 0;
  let i = 0;
  for (; i < ref.length && i < 3; i++) {
    const code = ref.charCodeAt(i);
    if (code < 65 || code > 90) break;
    col = col * 26 + code - 64;
  }
  if (i === 0 || i === ref.length) return colCache.decodeAddress(ref).col;
  for (let j = i; j < ref.length; j++) {
    const code = ref.charCodeAt(j);
    if (code < 48 || code > 57) return colCache.decodeAddress(ref).col;
  }
  return col <= 16384 ? col : colCache.decodeAddress(ref).col;
}

/** utils.isDateFmt, remembered per format (it runs two regular expressions per call). */
function dateFormats(): (format: unknown) => boolean {
  const known = new Map<unknown, boolean>();
  return (format) => {
    let date = known.get(format);
    if (date === undefined) {
      date = utils.isDateFmt(format);
      if (known.size < 1000) known.set(format, date);
    }
    return date;
  };
}
