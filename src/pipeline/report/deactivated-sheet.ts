/**
 * The xlsx report's *Deactivated* sheet (SPEC §8): the users a mirror feed deactivated (or, in a
 * dry run or a held import, would deactivate) because the file left them out. They are not rows of
 * the file, so they are listed here rather than on the Rows sheet, whose every line is a row
 * number HR can find in the file they sent; the Summary's "Deactivated" line explains why.
 */
import type ExcelJS from 'exceljs';
import { REPORT_SHEETS } from '../../domain/workbook-layout.js';
import { PagedSheet } from './paged-sheet.js';
import { isDeactivation } from './row-records.js';
import type { ReportSource } from './types.js';

/** Header of the Deactivated sheet. */
export const DEACTIVATED_HEADERS = ['Username', 'Status'] as const;

/** Rows between pauses that let the zip catch up (zip-backpressure.ts). */
const SETTLE_EVERY = 1000;

/** Writes the Deactivated sheet; nothing when the import deactivated nobody. */
export async function writeDeactivatedSheet(
  workbook: ExcelJS.stream.xlsx.WorkbookWriter,
  source: ReportSource,
  rowsPerSheet: number,
): Promise<void> {
  if (source.summary.counts.deactivated === 0) return;
  const sheet = new PagedSheet(
    workbook,
    { name: REPORT_SHEETS.deactivated, headers: DEACTIVATED_HEADERS, widths: [40, 18] },
    rowsPerSheet,
  );
  // Opened even if the source lists none after all: the Summary points at this sheet.
  sheet.open();
  let written = 0;
  for await (const result of source.rows({ deactivatedOnly: true })) {
    // A source may ignore the filter (types.ts ReportSource).
    if (!isDeactivation(result.status)) continue;
    sheet.add([result.username, result.status]);
    if (++written % SETTLE_EVERY === 0) await sheet.settle();
  }
  sheet.close();
}
