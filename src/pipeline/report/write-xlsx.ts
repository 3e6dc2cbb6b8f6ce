/**
 * The report for people: an .xlsx with a Summary, the failed rows laid out as the import
 * template (so HR can fix them and drop the file back in), and every row's outcome. Written with
 * exceljs' streaming WorkbookWriter so a 1,000,000-row report never sits in memory.
 *
 * Sheet order is Summary, Failed rows, Rows on purpose: the reader takes the first sheet with a
 * recognisable header (SPEC §1), so a report dropped back into the inbox imports its fixed
 * failed rows, not the Rows sheet (whose Username column would be found first otherwise). The
 * Deactivated sheet (SPEC §8, only when a mirror feed deactivated someone) and the Held sheet
 * (SPEC §9, only when a guard tripped) come after Rows for the same reason (workbook-layout.ts).
 */
import type ExcelJS from 'exceljs';
import { once } from 'node:events';
import { COLUMN_KEYS, TEMPLATE_HEADERS } from '../../domain/columns.js';
import { REPORT_ERROR_COLUMN, REPORT_KEYWORD, REPORT_SHEETS } from '../../domain/workbook-layout.js';
import { patchStreamingWriter } from '../../xlsx/index.js';
import { writeAtomically } from './atomic-file.js';
import { writeDeactivatedSheet } from './deactivated-sheet.js';
import { writeHeldSheet } from './held-sheet.js';
import { EXCEL_MAX_ROWS, HEADER_FONT, PagedSheet, toCellValues, type ReportCell } from './paged-sheet.js';
import { isDeactivation, rowsSheetCells } from './row-records.js';
import { summaryLines } from './summary-lines.js';
import { WorkbookWriter } from './workbook-writer.js';
import type { FailedRowCells, ReportSource, RowStatus } from './types.js';

// Before any report is written: exceljs' styles and archiver's CRC-32, made faster (src/xlsx/patches/).
patchStreamingWriter();

/** Options for tests; production uses the defaults. */
export interface XlsxReportOptions {
  /** Data rows per Rows / Failed rows page (default: Excel's limit, 1,048,575). */
  rowsPerSheet?: number;
}

const solid = (argb: string): ExcelJS.Fill => ({ type: 'pattern', pattern: 'solid', fgColor: { argb } });

/** Status cell colours: Excel's own "Good"/"Bad"/"Neutral" palette; dry-run outcomes lighter. */
export const STATUS_FILL: Readonly<Record<RowStatus, ExcelJS.Fill>> = {
  created: solid('FFC6EFCE'),
  'would-create': solid('FFE8F6EB'),
  updated: solid('FFBDD7EE'),
  'would-update': solid('FFDDEBF7'),
  unchanged: solid('FFD9D9D9'),
  failed: solid('FFFFC7CE'),
  deactivated: solid('FFFFEB9C'),
  'would-deactivate': solid('FFFFF5D6'),
  reverted: solid('FFBDD7EE'),
  'would-revert': solid('FFDDEBF7'),
  conflict: solid('FFFFC7CE'),
};

/** The Rows sheet's status colours: its rows are never deactivations (they have their own sheet). */
const ROWS_SHEET_FILLS = Object.entries(STATUS_FILL).filter(([status]) => !isDeactivation(status as RowStatus));
/** Statuses only a revert's report has (SPEC §10): an import's Rows sheet has no rule for them. */
const REVERT_STATUSES: ReadonlySet<string> = new Set<RowStatus>(['reverted', 'would-revert', 'conflict']);

/** Header of the Rows sheet(s). */
export const ROWS_HEADERS = ['Row', 'Username', 'Status', 'Changed fields', 'Message'] as const;

/** Header of the Failed rows sheet(s): the import template's columns, then Error. */
export const FAILED_HEADERS: readonly string[] = [
  ...COLUMN_KEYS.map((key) => TEMPLATE_HEADERS[key]),
  REPORT_ERROR_COLUMN,
];

/** zlib's output buffer for the report's deflate streams. */
const ZLIB_CHUNK_BYTES = 1024 * 1024;

/** Rows between pauses that let the zip catch up (zip-backpressure.ts). */
const SETTLE_EVERY = 1000;

/**
 * Writes the xlsx report to `filePath` (via `filePath.tmp` and a rename; mode 0o600). The
 * "Failed rows" sheet exists only when there are failed rows, "Deactivated" only when a mirror
 * feed deactivated someone; "Rows" always exists, with just its header for a rejected file.
 */
export async function writeXlsxReport(
  source: ReportSource,
  filePath: string,
  options: XlsxReportOptions = {},
): Promise<void> {
  const rowsPerSheet = options.rowsPerSheet ?? EXCEL_MAX_ROWS - 1;
  await writeAtomically(filePath, async (handle) => {
    // The stream owns the handle from here: it fsyncs (flush) and closes it after the last byte.
    // A FileHandle with a live stream never finishes close(), so on failure the stream is destroyed.
    const stream = handle.createWriteStream({ flush: true });
    try {
      // Rejects on a stream error (ENOSPC): exceljs itself only listens once it finalises.
      const closed = once(stream, 'close');
      closed.catch(() => undefined);
      // zlib's 16 KB default output chunk made ~150 round trips to its thread for a 100k-row
      // Rows sheet; at 1 MB, a handful (level 1 is compress-commons' own default, kept).
      const workbook = new WorkbookWriter({
        stream,
        useStyles: true,
        useSharedStrings: false,
        zip: { zlib: { level: 1, chunkSize: ZLIB_CHUNK_BYTES } },
      });
      // The marker the reader recognises a report by when it is dropped back in (domain/workbook-layout.ts).
      workbook.creator = 'usersync';
      workbook.title = 'usersync import report';
      workbook.keywords = REPORT_KEYWORD;
      await Promise.race([fillWorkbook(workbook, source, rowsPerSheet), closed]);
      await closed;
    } catch (error) {
      stream.destroy();
      throw error;
    }
  });
}

async function fillWorkbook(
  workbook: ExcelJS.stream.xlsx.WorkbookWriter,
  source: ReportSource,
  rowsPerSheet: number,
): Promise<void> {
  writeSummary(workbook, source);
  await writeFailedRows(workbook, source.failedRows(), rowsPerSheet);
  await writeRows(workbook, source, rowsPerSheet);
  await writeDeactivatedSheet(workbook, source, rowsPerSheet);
  writeHeldSheet(workbook, source.summary.guards ?? []);
  await workbook.commit();
}

function writeSummary(workbook: ExcelJS.stream.xlsx.WorkbookWriter, source: ReportSource): void {
  const sheet = workbook.addWorksheet(REPORT_SHEETS.summary);
  sheet.columns = [{ width: 22 }, { width: 100 }];
  const title = sheet.addRow(toCellValues(['Import report', source.summary.file.name]));
  title.font = { bold: true, size: 14 };
  title.commit();
  for (const [label, value] of summaryLines(source.summary)) {
    const row = sheet.addRow(toCellValues([label, value]));
    row.getCell(1).font = HEADER_FONT;
    row.getCell(1).alignment = { vertical: 'top' };
    row.getCell(2).alignment = { vertical: 'top', wrapText: true, horizontal: 'left' };
    row.commit();
  }
  sheet.commit();
}

async function writeFailedRows(
  workbook: ExcelJS.stream.xlsx.WorkbookWriter,
  failedRows: AsyncIterable<FailedRowCells>,
  rowsPerSheet: number,
): Promise<void> {
  const widths = [24, 18, 12, 20, 28, 18, 8, 11, 24, 24, 60];
  // Every template column but Active / Ignore MFA is text, as in the template.
  const textColumns = [0, 1, 2, 3, 4, 5, 8, 9];
  const sheet = new PagedSheet(
    workbook,
    { name: REPORT_SHEETS.failed, headers: FAILED_HEADERS, widths, textColumns },
    rowsPerSheet,
  );
  let written = 0;
  for await (const failed of failedRows) {
    // Password stays blank: it is never stored, and blank means "keep the current one".
    const cells: ReportCell[] = COLUMN_KEYS.map((key) => (key === 'password' ? null : (failed.cells[key] ?? null)));
    cells.push(`Row ${failed.row}: ${failed.error}`);
    sheet.add(cells);
    if (++written % SETTLE_EVERY === 0) await sheet.settle();
  }
  sheet.close();
}

async function writeRows(
  workbook: ExcelJS.stream.xlsx.WorkbookWriter,
  source: ReportSource,
  rowsPerSheet: number,
): Promise<void> {
  // Status colours are conditional formats on the Status column, not a fill per cell: one rule per
  // status for the whole page instead of a style lookup on each of a million rows.
  const fills = source.summary.revert
    ? ROWS_SHEET_FILLS
    : ROWS_SHEET_FILLS.filter(([status]) => !REVERT_STATUSES.has(status));
  const beforeCommit = (page: ExcelJS.Worksheet, count: number) => {
    if (count === 0) return;
    page.addConditionalFormatting({
      ref: `C2:C${count + 1}`,
      rules: fills.map(([status, fill], priority) => ({
        type: 'cellIs',
        operator: 'equal',
        priority: priority + 1,
        formulae: [`"${status}"`],
        style: { fill: { type: 'pattern', pattern: 'solid', bgColor: (fill as ExcelJS.FillPattern).fgColor } },
      })),
    });
  };
  const sheet = new PagedSheet(
    workbook,
    { name: REPORT_SHEETS.rows, headers: ROWS_HEADERS, widths: [8, 28, 14, 40, 80], beforeCommit },
    rowsPerSheet,
  );
  sheet.open();
  // The spool wrote these rows' XML while they were applied: copied, not rebuilt (~0.3 s of a
  // 100k-row first load's report went to reading the rows back and making it).
  const prebuilt = source.rowsSheetXml?.();
  if (prebuilt && prebuilt.rows <= rowsPerSheet) {
    await sheet.addRowsXml(prebuilt.xml, prebuilt.rows);
    sheet.close();
    return;
  }
  let written = 0;
  for await (const result of source.rows({ exceptUnchanged: true })) {
    // What HR acts on is what changed or failed: unchanged rows are counted on the Summary sheet
    // (and listed in the JSON report), not repeated here — a 100k-row re-sync lists only its changes.
    // Users deactivated for absence are not rows of the file: a line without a row number among
    // numbered ones reads as a mistake to HR, so they have their own sheet (deactivated-sheet.ts).
    if (result.status === 'unchanged' || isDeactivation(result.status)) continue;
    sheet.add(rowsSheetCells(result));
    if (++written % SETTLE_EVERY === 0) await sheet.settle();
  }
  sheet.close();
}
