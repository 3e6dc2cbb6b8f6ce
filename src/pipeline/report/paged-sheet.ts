/**
 * A worksheet of the streaming report workbook that continues on "Name (2)", "Name (3)", …
 * when it reaches Excel's row limit. Each page has a bold, frozen header row with an autofilter
 * over the rows written, and every string passes through `escapeCell`.
 */
import type ExcelJS from 'exceljs';
import { requireFromExceljs, waitForZip } from '../../xlsx/index.js';
import { escapeCell } from './escape-cell.js';

const { xmlEncode } = requireFromExceljs('exceljs/lib/utils/utils.js') as { xmlEncode(text: string): string };

/** Row XML made here waits in a string until it is this long, then goes to the page in one write. */
const FLUSH_CHARS = 64 * 1024;

/** Excel's hard limit of rows per worksheet (header included). */
export const EXCEL_MAX_ROWS = 1_048_576;

/** A cell as the report writes it: text (escaped here), a number, or blank. */
export type ReportCell = string | number | null;

/** How each page of a paged sheet looks. */
export interface SheetLayout {
  /** Name of the first page; later pages get " (2)", " (3)", …. */
  readonly name: string;
  readonly headers: readonly string[];
  readonly widths: readonly number[];
  /** Columns (0-based) formatted as text (`@`), so a phone typed in later is not turned into 5.5E+12. */
  readonly textColumns?: readonly number[];
  /** Called before a page is committed, with the number of data rows on it (e.g. conditional formats). */
  readonly beforeCommit?: (sheet: ExcelJS.Worksheet, rows: number) => void;
}

/** The header style shared by every report and template sheet. */
export const HEADER_FONT: Partial<ExcelJS.Font> = { bold: true };
export const HEADER_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7E6E6' } };

/** Column letter for a 1-based column number (the report sheets have fewer than 27 columns). */
export function columnLetter(column: number): string {
  return String.fromCharCode(64 + column);
}

/** Strings escaped, empty strings written as blank cells, numbers kept. */
export function toCellValues(cells: readonly ReportCell[]): Array<string | number | null> {
  return cells.map((cell) => (typeof cell === 'string' ? (cell === '' ? null : escapeCell(cell)) : cell));
}

/**
 * What exceljs' RowXform writes for an unstyled row `r` without shared strings (4.4.0), or ''
 * for a row without values (exceljs writes no element for it).
 */
export function unstyledRowXml(r: number, cells: readonly ReportCell[]): string {
  let xml = '';
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i];
    if (cell === null || cell === undefined || cell === '') continue;
    const ref = `${columnLetter(i + 1)}${r}`;
    xml +=
      typeof cell === 'number'
        ? `<c r="${ref}"><v>${cell}</v></c>`
        : `<c r="${ref}" t="str"><v>${xmlEncode(escapeCell(cell))}</v></c>`;
  }
  return xml === '' ? '' : `<row r="${r}" spans="1:${cells.length}" x14ac:dyDescent="0.25">${xml}</row>`;
}

/**
 * Pages are opened lazily (or with `open()` for a sheet that must exist even when empty) and
 * committed as soon as they are full: the streaming writer zips sheets one after another, so a
 * page left open would hold every later row in memory.
 */
export class PagedSheet {
  private sheet: ExcelJS.Worksheet | undefined;
  private page = 0;
  private rowsOnPage = 0;
  /** Rows made by addXml not yet written to the page. */
  private pendingXml = '';

  constructor(
    private readonly workbook: ExcelJS.stream.xlsx.WorkbookWriter,
    private readonly layout: SheetLayout,
    /** Data rows per page; tests pass a small number to exercise paging. */
    private readonly rowsPerPage = EXCEL_MAX_ROWS - 1,
  ) {}

  /** Makes sure the first page exists, so an empty sheet still shows its header. */
  open(): void {
    if (!this.sheet) this.startPage();
  }

  /**
   * Appends one data row; `decorate` may style its cells before the row is committed.
   *
   * A row nobody styles, on a page without column styles (the Rows sheet), is written as the XML
   * exceljs would write for it, without its Row and Cell objects: those were ~0.3 s of a 100k-row
   * first load's 0.7 s report. A row that is styled goes through exceljs, which alone knows the
   * workbook's style ids.
   */
  add(cells: readonly ReportCell[], decorate?: (row: ExcelJS.Row) => void): void {
    if (!this.sheet || this.rowsOnPage >= this.rowsPerPage) {
      this.closePage();
      this.startPage();
    }
    if (decorate === undefined && this.layout.textColumns === undefined) this.addXml(cells);
    else {
      this.flushXml();
      const row = (this.sheet as ExcelJS.Worksheet).addRow(toCellValues(cells));
      decorate?.(row);
      row.commit();
    }
    this.rowsOnPage += 1;
  }

  /** Pauses while the zip is behind (see zip-backpressure.ts); call every few thousand rows. */
  async settle(): Promise<void> {
    this.flushXml();
    await waitForZip(this.sheet);
  }

  /**
   * Appends rows already made by `unstyledRowXml`, numbered from 2, onto this sheet's first page,
   * which must be empty and hold them all (`rows` of them). The Rows sheet of an import: its XML
   * is spooled while rows are applied, so the report copies it instead of rebuilding it.
   */
  async addRowsXml(chunks: AsyncIterable<string | Uint8Array>, rows: number): Promise<void> {
    this.open();
    if (this.page !== 1 || this.rowsOnPage !== 0 || rows > this.rowsPerPage)
      throw new Error('PagedSheet.addRowsXml: only onto an empty first page that holds every row');
    this.flushXml();
    for await (const chunk of chunks) {
      this.writeToPage(
        typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
      await waitForZip(this.sheet);
    }
    this.rowsOnPage = rows;
  }

  private addXml(cells: readonly ReportCell[]): void {
    this.pendingXml += unstyledRowXml(this.rowsOnPage + 2, cells); // the header is row 1
    if (this.pendingXml.length >= FLUSH_CHARS) this.flushXml();
  }

  private flushXml(): void {
    if (this.pendingXml === '' || !this.sheet) return;
    this.writeToPage(this.pendingXml);
    this.pendingXml = '';
  }

  private writeToPage(xml: string | Buffer): void {
    // The page's header row is committed, so exceljs has opened <sheetData>: rows go after it.
    (this.sheet as unknown as { stream: { write(xml: string | Buffer): void } }).stream.write(xml);
  }

  /** Commits the current page. */
  close(): void {
    this.closePage();
  }

  private startPage(): void {
    this.page += 1;
    const { layout } = this;
    const name = this.page === 1 ? layout.name : `${layout.name} (${this.page})`;
    const sheet = this.workbook.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] });
    sheet.columns = layout.widths.map((width, index) =>
      layout.textColumns?.includes(index) ? { width, style: { numFmt: '@' } } : { width },
    );
    const header = sheet.addRow(toCellValues(layout.headers));
    header.font = HEADER_FONT;
    header.eachCell((cell) => {
      cell.fill = HEADER_FILL;
    });
    header.commit();
    this.sheet = sheet;
    this.rowsOnPage = 0;
  }

  private closePage(): void {
    if (!this.sheet) return;
    this.flushXml();
    // Written at commit by the streaming writer, so it can cover exactly the rows on this page.
    this.sheet.autoFilter = `A1:${columnLetter(this.layout.headers.length)}${this.rowsOnPage + 1}`;
    this.layout.beforeCommit?.(this.sheet, this.rowsOnPage);
    this.sheet.commit();
    this.sheet = undefined;
  }
}
