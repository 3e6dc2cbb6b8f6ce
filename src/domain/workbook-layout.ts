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
 * limit. Deactivated (SPEC §8: users a mirror feed's file left out) and Held (SPEC §9: the users
 * each tripped guard counts) come after Rows: both have a Username column, so before Failed rows
 * either would be the sheet a reader without the report marker takes. Deactivated, like Rows, says
 * what the import did, so it sits next to Rows; Held, about why nothing was done, stays last.
 */
export const REPORT_SHEETS = {
  summary: 'Summary',
  failed: 'Failed rows',
  rows: 'Rows',
  deactivated: 'Deactivated',
  held: 'Held',
} as const;

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
 * optionally Deactivated, optionally Held, each possibly continued on further pages.
 */
export function isReportWorkbook(sheets: readonly ListedSheet[], keywords = ''): boolean {
  if (keywords.split(/[\s,;]+/).includes(REPORT_KEYWORD)) return true;
  const pages = sheets.map((sheet) => pageOf(sheet.name));
  const layout = pages.filter((name, i) => name !== pages[i - 1]);
  const { summary, failed, rows, deactivated, held } = REPORT_SHEETS;
  const optional = (names: string[], name: string) => [...names, ...names.map((before) => `${before},${name}`)];
  const layouts = optional(optional([`${summary},${rows}`, `${summary},${failed},${rows}`], deactivated), held);
  return layouts.includes(layout.join(','));
}

/**
 * A sheet other than the one read that is not worth a warning: the template's Instructions, and
 * in a report everything but the Failed rows pages (its Summary, Rows, Deactivated and Held
 * describe the import).
 */
export function isExpectedSheet(name: string, report: boolean): boolean {
  if (name === INSTRUCTIONS_SHEET) return true;
  const page = pageOf(name);
  const { summary, rows, deactivated, held } = REPORT_SHEETS;
  const describing: readonly string[] = [summary, rows, deactivated, held];
  return report && describing.includes(page);
}
