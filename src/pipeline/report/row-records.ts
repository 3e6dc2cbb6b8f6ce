/**
 * The exact records a row turns into, shared by the spools and the writers, so that the report
 * JSON's row keys (SPEC §3: row, username, status, changes, message?, plus code?) and the
 * password-free failed cells are decided in one place.
 */
import { COLUMN_KEYS } from '../../domain/columns.js';
import type { FailedRowCells, ReportCounts, RowResult, RowStatus } from './types.js';

/** Zeroed counts. */
export function newCounts(): ReportCounts {
  return { rows: 0, created: 0, updated: 0, unchanged: 0, failed: 0, deactivated: 0 };
}

/** Which counter a status adds to: a dry run's would-create/would-update count as created/updated. */
const COUNTER: Readonly<Record<RowStatus, Exclude<keyof ReportCounts, 'rows'>>> = {
  created: 'created',
  'would-create': 'created',
  updated: 'updated',
  'would-update': 'updated',
  unchanged: 'unchanged',
  failed: 'failed',
  deactivated: 'deactivated',
  'would-deactivate': 'deactivated',
  reverted: 'reverted',
  'would-revert': 'reverted',
  conflict: 'conflicts',
};

/** Adds one row of `status` to `counts`. */
export function tally(counts: ReportCounts, status: RowStatus): void {
  const counter = COUNTER[status];
  // A user left out of the file is not one of its rows; a revert's conflict is a field of a user already counted.
  if (counter !== 'deactivated' && counter !== 'conflicts') counts.rows += 1;
  counts[counter] = (counts[counter] ?? 0) + 1;
}

/**
 * Whether a row is a user a mirror feed deactivated (or, in a dry run or a held import, would
 * deactivate) for being left out of the file (SPEC §8): not one of the file's rows, so `row: null`.
 */
export const isDeactivation = (status: RowStatus): boolean => status === 'deactivated' || status === 'would-deactivate';

/** A copy with exactly the contract's keys, whatever else the caller's object carried. */
export function toRowRecord(result: RowResult): RowResult {
  const record: RowResult = {
    row: result.row,
    username: result.username,
    status: result.status,
    changes: [...result.changes],
  };
  if (result.message !== undefined) record.message = result.message;
  if (result.code !== undefined) record.code = result.code;
  return record;
}

/**
 * JSON.stringify(toRowRecord(result)), without the copy: this runs for every row of an import
 * (a test holds the two to the same text).
 */
export function rowRecordJson(result: RowResult): string {
  let json = `{"row":${JSON.stringify(result.row)},"username":${JSON.stringify(result.username)},"status":${JSON.stringify(result.status)},"changes":${JSON.stringify(result.changes)}`;
  if (result.message !== undefined) json += `,"message":${JSON.stringify(result.message)}`;
  if (result.code !== undefined) json += `,"code":${JSON.stringify(result.code)}`;
  return `${json}}`;
}

/**
 * A row's cells on the xlsx Rows sheet (ROWS_HEADERS in write-xlsx.ts): what HR acts on. Only
 * changed and failed rows go there; unchanged ones are counted on the Summary sheet.
 */
export function rowsSheetCells(result: RowResult): Array<string | number | null> {
  return [result.row, result.username, result.status, result.changes.join(', '), result.message ?? null];
}

/** Template columns a failed row may carry: all but Password, which is never stored or reported. */
export const FAILED_CELL_KEYS = COLUMN_KEYS.filter(
  (key): key is Exclude<(typeof COLUMN_KEYS)[number], 'password'> => key !== 'password',
);

/**
 * Whether a failed row stays off the "Failed rows" sheet: a row that repeats an earlier row's
 * username. That sheet is meant to be fixed and imported again, and imported again this row would
 * overwrite the user the earlier row applied to; the Rows sheet lists it with its reason.
 */
export const isUnlistedFailure = (result: RowResult): boolean => result.code === 'ROW_DUPLICATE_USERNAME';

/**
 * The "Failed rows" record for a row, or undefined when the row did not fail or is not listed
 * there (isUnlistedFailure). Only known, non-password keys are copied (defence in depth: a stray
 * `password` property is dropped). Without cells, the username is all we know, and the row still
 * gets listed.
 */
export function toFailedCells(result: RowResult, given?: FailedRowCells): FailedRowCells | undefined {
  if ((result.status !== 'failed' && given === undefined) || isUnlistedFailure(result)) return undefined;
  const source = given?.cells ?? { username: result.username };
  const cells: FailedRowCells['cells'] = {};
  for (const key of FAILED_CELL_KEYS) {
    const value = source[key];
    if (typeof value === 'string' && value !== '') cells[key] = value;
  }
  return { row: given?.row ?? result.row ?? 0, cells, error: given?.error ?? result.message ?? 'The row failed.' };
}
