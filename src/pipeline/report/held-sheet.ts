/**
 * The xlsx report's *Held* sheet (SPEC §9): for each tripped guard, the users it counts, one row
 * each, so HR can see who a hold is about before anyone approves it. Small by construction: a
 * guard lists at most USERS_LISTED (100) usernames, so the sheet has at most a few hundred rows.
 */
import type ExcelJS from 'exceljs';
import type { GuardTrip } from '../../domain/guards.js';
import { REPORT_SHEETS } from '../../domain/workbook-layout.js';
import { PagedSheet, type ReportCell } from './paged-sheet.js';

/** Header of the Held sheet. */
export const HELD_HEADERS = ['Guard', 'Limit', 'Planned', 'Username'] as const;

/**
 * The sheet's data rows: one per listed user, then "… and N more" when the guard counts more users
 * than it lists. `rowDropPercent` counts percent of rows, not users: one row says so.
 */
export function heldSheetCells(guards: readonly GuardTrip[]): ReportCell[][] {
  const rows: ReportCell[][] = [];
  for (const { guard, limit, planned, users } of guards) {
    if (guard === 'rowDropPercent') {
      rows.push([guard, limit, planned, '(percent fewer rows than the last applied file, not users)']);
      continue;
    }
    for (const username of users) rows.push([guard, limit, planned, username]);
    const unlisted = planned - users.length;
    if (unlisted > 0) rows.push([guard, limit, planned, `… and ${unlisted.toLocaleString('en-US')} more`]);
  }
  return rows;
}

/** Writes the Held sheet; nothing when no guard tripped. */
export function writeHeldSheet(workbook: ExcelJS.stream.xlsx.WorkbookWriter, guards: readonly GuardTrip[]): void {
  if (guards.length === 0) return;
  const sheet = new PagedSheet(workbook, { name: REPORT_SHEETS.held, headers: HELD_HEADERS, widths: [18, 10, 10, 40] });
  for (const cells of heldSheetCells(guards)) sheet.add(cells);
  sheet.close();
}
