/**
 * A failed row as the "Failed rows" sheet lists it: the cells HR typed, in template layout, ready
 * to be fixed and imported again, and why the row failed. What the sheet cannot give back is said
 * in the row's Error text, because a blank cell imported again means "keep the stored value":
 * - the password, never copied into a report: a new user would be created without one;
 * - a cell that held no usable value (a spreadsheet error such as #N/A, a formula without a saved
 *   result, a value over import.maxCellChars): left blank, never filled with our description of it.
 */
import { COLUMN_INDEX, COLUMN_KEYS, TEMPLATE_HEADERS } from '../../domain/columns.js';
import type { FailedRowCells } from '../report/index.js';
import type { AppliedRow } from './change-set.js';

/** The Error note of a row whose Password cell was filled in. */
export const REENTER_PASSWORD =
  'Re-enter the password: reports never hold one, and with the Password cell blank a new user is created ' +
  'without a password (an existing user keeps theirs).';

/** The "Failed rows" record of a failed row (its Error text without the "Row N:" the report adds). */
export function failedCells(row: AppliedRow): FailedRowCells {
  const cells: FailedRowCells['cells'] = {};
  const blanked: string[] = [];
  COLUMN_KEYS.forEach((key, index) => {
    if (key === 'password') return; // never copied anywhere
    const cell = row.raw?.cells[index];
    if (cell === undefined) return;
    if (typeof cell === 'string') cells[key] = cell;
    else blanked.push(TEMPLATE_HEADERS[key]);
  });
  if (!cells.username && row.username) cells.username = row.username;
  const notes = [row.message ?? 'The row failed.'];
  if (blanked.length > 0) {
    const [verb, pronoun] = blanked.length === 1 ? ['is', 'it'] : ['are', 'them'];
    notes.push(
      `${blanked.join(', ')} ${verb} left blank here, having held no usable value: type ${pronoun} in before importing this row again.`,
    );
  }
  const password = row.raw?.cells[COLUMN_INDEX.password];
  if (password !== undefined && password !== '') notes.push(REENTER_PASSWORD);
  return { row: row.row, cells, error: notes.join(' ') };
}
