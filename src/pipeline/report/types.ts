/**
 * The shapes the report stage consumes. Other stages (validate, apply, the orchestrator) produce
 * them; the report JSON written from them is a contract (SPEC §3).
 */
import type { ColumnKey } from '../../domain/columns.js';
import type { GuardTrip } from '../../domain/guards.js';

/**
 * A row's outcome; the `would-*` ones only occur in a dry run (or a held import). `deactivated`
 * is a user a mirror feed's file left out (SPEC §8): it has no row in the file (`row: null`).
 * A revert (SPEC §10) reports `reverted` (the user's fields set back; `would-revert` in a dry
 * run) and `conflict` (one field it left alone because it changed again after the import).
 */
export type RowStatus =
  | 'created'
  | 'updated'
  | 'unchanged'
  | 'failed'
  | 'deactivated'
  | 'would-create'
  | 'would-update'
  | 'would-deactivate'
  | 'reverted'
  | 'would-revert'
  | 'conflict';

/** Field names listed in a row's `changes` (SPEC §3). */
export type ChangeField =
  'name' | 'email' | 'phone' | 'department' | 'active' | 'ignoreMfa' | 'password' | 'roles' | 'groups';

/** One data row's outcome, as reported. */
export interface RowResult {
  /** Spreadsheet row number (1-based, as Excel shows it); null for a user deactivated for absence. */
  row: number | null;
  /** The normalised username ('' when the cell was blank). */
  username: string;
  status: RowStatus;
  changes: ChangeField[];
  /** Why a row failed, in words a person can act on. Never contains a password. */
  message?: string;
  /** The stable error code of a failed row (errors.ts). */
  code?: string;
}

/** A failed row's original cells (password never included), in template column order, for the "Failed rows" sheet. */
export interface FailedRowCells {
  row: number;
  cells: Partial<Record<Exclude<ColumnKey, 'password'>, string>>;
  error: string;
}

/** `held`: a guard tripped and nothing was written (SPEC §9); the counts are what the file would have done. */
export type Outcome = 'imported' | 'imported_with_errors' | 'rejected' | 'held';

/**
 * Row counts. `rows` counts every reported data row; in a dry run `would-create` rows are counted
 * as `created` and `would-update` as `updated` (the JSON shape has no separate dry-run counters;
 * `dryRun: true` says how to read them).
 */
export interface ReportCounts {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  /** Users a mirror feed deactivated for absence (SPEC §8); not data rows, so not in `rows`. */
  deactivated: number;
  /** A revert's users set back (SPEC §10); present on a revert's report only. */
  reverted?: number;
  /** A revert's fields left alone because they changed after the import; not in `rows`. */
  conflicts?: number;
}

/** Everything about one import except its rows. */
export interface ReportSummary {
  importId: number | null;
  file: { name: string; sha256: string; bytes: number };
  dryRun: boolean;
  outcome: Outcome;
  counts: ReportCounts;
  warnings: string[];
  /** Set when the file was rejected: why, as a registered code (errors.ts) and a message. */
  error?: { code: string; message: string };
  /** ISO 8601 timestamps; timings are also shown in the xlsx Summary. */
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Optional context shown in the Summary sheet (sheet and header row are also in the JSON). */
  sheetName?: string | null;
  headerRow?: number | null;
  /** Shown in the Summary sheet only, with any password redacted; never written to the JSON. */
  database?: string;
  /** Failed rows kept off the Failed rows sheet (row-records.ts `isUnlistedFailure`); Summary sheet only. */
  unlistedFailures?: number;
  /** Who ran the import (app/actor.ts); in the JSON after `headerRow`. */
  actor?: string;
  /** The feed the file belongs to (SPEC §8). */
  feed?: string;
  /**
   * With safety on (SPEC §9): the guards that tripped — what held the file, what a dry run would
   * have held, or what `--allow` overrode (`allowed`). Empty when none did.
   */
  guards?: GuardTrip[];
  /** The guards `--allow` (or an approval) let through; present only when some were. */
  allowed?: string[];
  /** On a held import: the command that approves it. */
  approveCommand?: string;
  /**
   * The audit chain's last event of this import when the report was written (SPEC §10), or the
   * chain's head for an import with none (a dry run): an anchor for `usersync audit verify`.
   */
  auditHead?: { seq: number; hash: string };
  /** A revert (SPEC §10): what it undoes, and what it cannot. */
  revert?: RevertSummary;
}

/** What a revert's report says beyond an import's (SPEC §10). */
export interface RevertSummary {
  /** The import reverted. */
  revertsImportId: number;
  /** `--force`: fields that changed again after the import were set back all the same. */
  force: boolean;
  /** Users whose password the import changed: not reverted (no old hash is kept), to be reset. */
  passwordsNotReverted: string[];
}

/** Which rows to read back: all of them, or one sheet's worth of the xlsx report. */
export interface RowFilter {
  /** Only the file's rows that changed or failed (the Rows sheet): no unchanged rows, no deactivations. */
  exceptUnchanged?: boolean;
  /** Only the users deactivated (or that would be) for absence (the Deactivated sheet). */
  deactivatedOnly?: boolean;
}

/**
 * Where rows come from: functions that can be called more than once, each call iterating all
 * rows again in row order (the rows of a 1,000,000-row file are spooled to disk, not held in
 * memory).
 */
export interface ReportSource {
  summary: ReportSummary;
  /** Rows in file order; a source may ignore the filter, so readers still check the status. */
  rows(filter?: RowFilter): AsyncIterable<RowResult>;
  /**
   * Optional fast path for the JSON report: the same rows already serialised as its rows array's
   * body (each row on its own indented line, comma-separated; nothing for no rows), as the spool
   * stores them, so a million rows are copied rather than parsed and rebuilt.
   */
  rowsJsonBody?(): AsyncIterable<string | Uint8Array>;
  /**
   * Optional fast path for the xlsx Rows sheet: the rows `rows({ exceptUnchanged: true })` gives,
   * already written as that sheet's XML (paged-sheet.ts `unstyledRowXml`, numbered from row 2),
   * and how many; undefined when they would not fit on one page.
   */
  rowsSheetXml?(): { rows: number; xml: AsyncIterable<string | Uint8Array> } | undefined;
  failedRows(): AsyncIterable<FailedRowCells>;
}
