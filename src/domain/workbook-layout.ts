/**
 * The workbooks usersync writes itself and reads back: the template (a *Users* sheet and an
 * *Instructions* sheet) and the xlsx report, whose *Failed rows* sheet is laid out as the template
 * so HR can fix those rows and drop the report straight back in. The report writer and the reader
 * both take the names from here, so a report is recognised as one when it comes back.
 */

/** The template's explanation sheet: expected beside the Users sheet, so never warned about. */
export const INSTRUCTIONS_SHEET = 'Instructions';

/**
 * The report's sheets, in the order written; each continues on "Name (2)", … past Excel's row
 * limit. Held (SPEC §9: the users each tripped guard counts) comes last: it has a Username column,
 * so before Failed rows it would be the sheet a reader without the report marker takes.
 */
export const REPORT_SHEETS = { summary: 'Summary', failed: 'Failed rows', rows: 'Rows', held: 'Held' } as const;

/** The column a Failed rows sheet adds after the template's: why the row failed (not imported). */
export const REPORT_ERROR_COLUMN = 'Error';

/**
 * Written into a report's document properties (keywords): HR may delete or reorder its sheets
 * and Excel and LibreOffice keep the properties when they save it.
 */
export const REPORT_KEYWORD = 'usersync-report';

/** One sheet as the workbook lists it, in tab order. */
export interface ListedSheet {
  readonly name: string;
  readonly hidden: boolean;
}

/** `Rows (2)` → `Rows`: the sheet a page belongs to. */
const pageOf = (name: string): string => name.replace(/ \(\d+\)$/, '');

/**
 * Whether a workbook is a usersync report: its keywords carry REPORT_KEYWORD, or (a report
 * written without the marker) its sheets are exactly Summary, optionally Failed rows, then Rows,
 * optionally Held, each possibly continued on further pages.
 */
export function isReportWorkbook(sheets: readonly ListedSheet[], keywords = ''): boolean {
  if (keywords.split(/[\s,;]+/).includes(REPORT_KEYWORD)) return true;
  const pages = sheets.map((sheet) => pageOf(sheet.name));
  const layout = pages.filter((name, i) => name !== pages[i - 1]);
  const { summary, failed, rows, held } = REPORT_SHEETS;
  const layouts = [`${summary},${rows}`, `${summary},${failed},${rows}`];
  return [...layouts, ...layouts.map((layout) => `${layout},${held}`)].includes(layout.join(','));
}

/**
 * A sheet other than the one read that is not worth a warning: the template's Instructions, and
 * in a report everything but the Failed rows pages (its Summary, Rows and Held describe the import).
 */
export function isExpectedSheet(name: string, report: boolean): boolean {
  if (name === INSTRUCTIONS_SHEET) return true;
  const page = pageOf(name);
  return report && (page === REPORT_SHEETS.summary || page === REPORT_SHEETS.rows || page === REPORT_SHEETS.held);
}
