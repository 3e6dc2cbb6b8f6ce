/**
 * The orchestrator: the one place that states the order of the stages.
 *
 *   fingerprint → register → read → (validate+hash → apply) per batch → report → verify → close register → audit
 *
 * Reading runs in a worker and runs ahead; batch N+1 is validated and its passwords hashed while
 * batch N is written. A file's own fault (FileError) becomes a "rejected" report; anything else
 * (database down, disk full) propagates so the caller can retry — the file is never blamed for it.
 */
import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/knex.js';
import { COLUMN_INDEX, type RawRow } from '../domain/columns.js';
import { withDatabaseErrors } from '../db/errors.js';
import { closeImport, findImportOfContent, openImport, type ImportSource } from '../db/repositories/imports.js';
import { systemClock, type Clock } from '../db/time.js';
import { FileError, describeError, fail } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { applyRows, openImportWriter, relabelRolledBack, type ApplyTotals } from './apply/index.js';
import type { AuditTrail } from './audit.js';
import { stemOf } from './claim.js';
import { fingerprintFile, type Fingerprint } from './fingerprint.js';
import type { PasswordHasher } from './passwords.js';
import { holdLeanHeap, isLeanMemoryFile, openSpreadsheet, type SheetHeader, type SpreadsheetReader } from './read/index.js';
import { createRowSpool, loadXlsxWriter, prepareReportDir, sameContentWarning, writeReports, type Outcome, type ReportPaths, type ReportSummary, type RowFilter } from './report/index.js';

export interface PipelineDeps {
  config: Readonly<Config>;
  db: Database;
  logger: Logger;
  audit: AuditTrail;
  hasher: PasswordHasher;
  clock?: Clock;
}

export interface ProcessRequest {
  /** Where the file is now. */
  filePath: string;
  /** The name HR gave it (reports and the register use it). */
  originalName: string;
  source: ImportSource;
  /** Who runs the import (app/actor.ts): recorded in the register and on every audit event it writes. */
  actor: string;
  dryRun: boolean;
  /** Folder the two reports are written to. */
  reportDir: string;
  /** Report names are `<stem>.report.{json,xlsx}`; defaults to the original name without extension. */
  reportStem?: string;
  /** Called after each batch with the number of data rows done. */
  onProgress?: (rows: number) => void;
  /** Aborting stops after the batch being written commits; the import stays `running` for recovery. */
  signal?: AbortSignal;
  /**
   * A reader already opening for this very file (opened with the same import settings), so that
   * reading overlaps start-up; undefined when it was not read ahead. processFile owns it: it is
   * used or closed whatever happens.
   */
  reader?: Promise<SpreadsheetReader | undefined>;
  /**
   * Called once the rows are applied (or the file rejected) and the reports written, just before
   * the register is closed: throws when the file is no longer the one that was read (the daemon's
   * check that nobody was still writing it, settle.ts). Then the import is closed as `interrupted`
   * and its reports are removed: they describe a file that was not complete.
   */
  verifyFile?: (read: { importId: number | null; sha256: string; bytes: number }) => Promise<void>;
}

export interface ProcessResult {
  summary: ReportSummary;
  reports: ReportPaths;
  /** SPEC §3: 0 every row applied, 1 some rows failed, 2 rejected. */
  exitCode: 0 | 1 | 2;
  /** The file holds (or may hold) passwords: its archived copy must be redacted. */
  carriedPasswords: boolean;
}

export async function processFile(deps: PipelineDeps, request: ProcessRequest): Promise<ProcessResult> {
  let readerTaken = false;
  const takeReader = async (): Promise<SpreadsheetReader> => {
    readerTaken = true;
    return (await request.reader) ?? openSpreadsheet(request.filePath, deps.config.import);
  };
  try {
    return await importFile(deps, request, takeReader);
  } finally {
    // A reader opened ahead for a file rejected (or a database that failed) before reading began.
    if (!readerTaken) void request.reader?.then((reader) => reader?.close(), () => undefined);
  }
}

async function importFile(deps: PipelineDeps, request: ProcessRequest, takeReader: () => Promise<SpreadsheetReader>): Promise<ProcessResult> {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock();
  const file = await fingerprintFile(request.filePath);
  // A large file is imported in lean-memory mode, reports included (src/xlsx/memory-mode.ts); any
  // other loads exceljs for the xlsx report now, while the reader starts.
  const lean = isLeanMemoryFile(file.bytes);
  const releaseLeanHeap = lean ? holdLeanHeap() : undefined;
  if (!lean) loadXlsxWriter().catch(() => undefined);
  try {
    return await importFingerprinted(deps, request, takeReader, { file, clock, startedAt, lean });
  } finally {
    releaseLeanHeap?.();
  }
}

async function importFingerprinted(
  deps: PipelineDeps,
  request: ProcessRequest,
  takeReader: () => Promise<SpreadsheetReader>,
  { file, clock, startedAt, lean }: { file: Fingerprint; clock: Clock; startedAt: Date; lean: boolean },
): Promise<ProcessResult> {
  const log = deps.logger.child({ module: 'pipeline', file: request.originalName });
  const register = deps.db.knex;

  await prepareReportDir(request.reportDir);
  // Said in the warnings, so an idempotent re-import does not look as if nothing happened.
  const earlier = await withDatabaseErrors(deps.db.location, () => findImportOfContent(register, file.sha256));
  let importId: number | null = null;
  if (!request.dryRun) {
    importId = await withDatabaseErrors(deps.db.location, () =>
      openImport(register, { originalName: request.originalName, sha256: file.sha256, bytes: file.bytes, source: request.source, host: hostname(), actor: request.actor, dryRun: false, filePath: request.filePath, startedAt: startedAt.toISOString() }),
    );
    await withDatabaseErrors(deps.db.location, () => deps.audit.write(register, [{ at: startedAt.toISOString(), importId, row: null, username: null, action: 'import.started', changes: { file: request.originalName, sha256: file.sha256, bytes: file.bytes, source: request.source }, actor: request.actor }]));
  }
  const importLog = log.child({ importId });
  importLog.info('import.started', { sha256: file.sha256, bytes: file.bytes, dryRun: request.dryRun });

  const spool = createRowSpool(tmpdir());
  let header: SheetHeader | undefined;
  let totals: ApplyTotals | undefined;
  let rejection: FileError | undefined;
  const passwords = { cells: 0 };
  try {
    try {
      if (file.bytes === 0) throw fail('FILE_EMPTY');
      const max = deps.config.import.maxFileBytes;
      if (file.bytes > max) throw fail('FILE_TOO_LARGE', { message: `The file is ${(file.bytes / 1048576).toFixed(1)} MB; import.maxFileBytes allows ${(max / 1048576).toFixed(1)} MB.` });
      // Started now, so that its start-up overlaps the reader's (apply/index.ts, openImportWriter).
      const writer = openImportWriter(deps.db, deps.config.import, { dryRun: request.dryRun, lean });
      try {
        const reader = await takeReader();
        header = reader.header;
        try {
          totals = await applyRows({ ...deps, clock }, countPasswords(reader.batches(), passwords), spool, { importId, actor: request.actor, dryRun: request.dryRun, lean, onProgress: request.onProgress, signal: request.signal, writer });
        } finally {
          await reader.close();
        }
      } finally {
        // Before the database closes, so that its close still folds the WAL in; also for a file rejected before its rows.
        await writer?.close();
      }
    } catch (error) {
      if (!(error instanceof FileError)) throw error;
      rejection = error;
    }
    await spool.finish();
    const rolledBack = rejection?.code === 'FILE_ROWS_FAILED_ATOMIC';
    const outcome: Outcome = rejection ? 'rejected' : spool.counts.failed > 0 ? 'imported_with_errors' : 'imported';
    const finishedAt = clock();
    const summary: ReportSummary = {
      importId,
      file: { name: request.originalName, sha256: file.sha256, bytes: file.bytes },
      dryRun: request.dryRun,
      outcome,
      counts: rolledBack ? { ...spool.counts, created: 0, updated: 0 } : (totals?.counts ?? { ...spool.counts }),
      warnings: [...(earlier ? [sameContentWarning(earlier)] : []), ...(header?.warnings ?? [])],
      ...(rejection ? { error: { code: rejection.code, message: rejection.message } } : {}),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      sheetName: header?.sheetName ?? null,
      headerRow: header?.headerRow ?? null,
      database: deps.db.description,
      unlistedFailures: spool.unlistedFailures,
      actor: request.actor,
    };
    const reportStarted = Date.now();
    const rssBeforeReportMb = Math.round(process.memoryUsage.rss() / 1048576);
    const source = {
      summary,
      rows: rolledBack ? (filter?: RowFilter) => relabelRolledBack(spool.rows(filter)) : (filter?: RowFilter) => spool.rows(filter),
      ...(rolledBack ? {} : { rowsJsonBody: () => spool.rowsJsonBody(), rowsSheetXml: () => spool.rowsSheetXml() }),
      failedRows: () => spool.failedRows(),
    };
    const reports = await writeReports(source, request.reportDir, request.reportStem ?? stemOf(request.originalName));
    const reportMs = Date.now() - reportStarted;
    if (request.verifyFile) {
      await request.verifyFile({ importId, sha256: file.sha256, bytes: file.bytes }).catch(async (error: unknown) => {
        await Promise.all([rm(reports.jsonPath, { force: true }), rm(reports.xlsxPath, { force: true })]);
        throw error;
      });
    }
    if (importId !== null) await closeRegister(deps, importId, summary, reports, request.filePath);
    importLog.info('import.finished', { outcome, counts: summary.counts, ms: summary.durationMs, reportMs, rssBeforeReportMb, rssMb: Math.round(process.memoryUsage.rss() / 1048576), error: summary.error?.code });
    // A file rejected part-way may hold passwords in rows never read: redact whenever it has the column.
    const carriedPasswords = passwords.cells > 0 || (rejection !== undefined && header?.columns.includes('password') === true);
    return { summary, reports, exitCode: outcome === 'imported' ? 0 : outcome === 'imported_with_errors' ? 1 : 2, carriedPasswords };
  } catch (error) {
    // Not the file's fault: leave the file for a retry, record why, and let the caller decide.
    const code = (error as { code?: string }).code;
    const interrupted = code === 'IMPORT_INTERRUPTED';
    // Not finished either: what was read was not the whole file (the daemon imports it again).
    const incomplete = code === 'FILE_CHANGED_DURING_IMPORT';
    // The daemon's interrupted import stays `running`: its next start re-imports the file and marks
    // it interrupted. Nothing re-runs a command line's: it is closed as interrupted now, counting
    // what it committed (an interrupt keeps the batches written before it: apply/index.ts).
    const rerun = request.source !== 'cli';
    if (interrupted) importLog.warn('import.interrupted', { reason: rerun ? 'stop requested; the file stays claimed and is imported again at the next start' : 'stop requested; what was committed is kept', counts: spool.counts });
    else if (incomplete) importLog.warn('import.file_changed', { err: describeError(error), counts: spool.counts });
    else importLog.error('import.failed', { err: describeError(error) });
    if (importId !== null && !(interrupted && rerun)) {
      const closed = interrupted
        ? { status: 'interrupted' as const, error: { code: 'IMPORT_INTERRUPTED', message: 'Stopped by a signal before the end of the file.' } }
        : { status: incomplete ? ('interrupted' as const) : ('failed' as const), error: { code: code ?? 'UNEXPECTED', message: String(describeError(error).message) } };
      // Rows committed before the stop or failure (a conflict, the reports, the disk filling up) are
      // counted, not hidden: the spool counts a batch's rows once its transaction has committed.
      await closeImport(register, importId, { ...closed, finishedAt: clock().toISOString(), counts: { ...spool.counts } }).catch(() => undefined);
    }
    throw error;
  } finally {
    await spool.dispose();
  }
}

async function closeRegister(deps: PipelineDeps, importId: number, summary: ReportSummary, reports: ReportPaths, filePath: string): Promise<void> {
  const register = deps.db.knex;
  await withDatabaseErrors(deps.db.location, () =>
    closeImport(register, importId, {
      status: summary.outcome,
      finishedAt: summary.finishedAt,
      counts: summary.counts,
      error: summary.error ?? null,
      filePath,
      reportJsonPath: reports.jsonPath,
      reportXlsxPath: reports.xlsxPath,
    }),
  );
  const action = summary.outcome === 'rejected' ? 'import.rejected' : 'import.finished';
  await withDatabaseErrors(deps.db.location, () => deps.audit.write(register, [{ at: summary.finishedAt, importId, row: null, username: null, action, changes: { outcome: summary.outcome, counts: summary.counts, ...(summary.error ? { error: summary.error.code } : {}) }, actor: summary.actor ?? null }]));
}

/** Passes batches through, counting non-blank Password cells. */
async function* countPasswords(batches: AsyncIterable<RawRow[]>, counter: { cells: number }): AsyncIterable<RawRow[]> {
  const index = COLUMN_INDEX.password;
  for await (const batch of batches) {
    for (const row of batch) {
      const cell = row.cells[index];
      if (cell !== undefined && cell !== '') counter.cells++;
    }
    yield batch;
  }
}

