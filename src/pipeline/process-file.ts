/**
 * The orchestrator: the whole life of one file, in order, for the daemon and the command line.
 *
 *   claim (daemon: settle) → fingerprint → open register → read → validate → plan → apply
 *   → report → verify (daemon) → prepare archive (daemon) → close register → publish archive (daemon)
 *
 * Reading runs in a worker and runs ahead; batch N+1 is validated and its passwords hashed while
 * batch N is written (apply/). A file's own fault (FileError) becomes a "rejected" report; anything
 * else (database down, disk full) propagates so the caller can retry — the file is never blamed.
 *
 * The register row is closed once, with the final place of the file and its reports, and before
 * the file appears there: whoever finds it in archive/ or error/ finds its register final.
 * Crash safety comes from the claimed file staying in processing/ until that last step: a run that
 * dies anywhere before it leaves the file there, and the daemon's next start imports it again,
 * closing the run left `running` as superseded (ClaimSteps.earlierRuns).
 */
import { tmpdir } from 'node:os';
import { withDatabaseErrors } from '../db/errors.js';
import { lastEventOf } from '../db/repositories/audit-chain.js';
import { findImportOfContent, type ImportRecord } from '../db/repositories/imports.js';
import { systemClock } from '../db/time.js';
import { describeError } from '../errors.js';
import { fingerprintFile } from './fingerprint.js';
import type { EarlierRuns, FinalPlace, PipelineDeps, ProcessRequest, ProcessResult } from './import-request.js';
import {
  carriesPasswords,
  exitCodeOf,
  readAndApply,
  summarize,
  verifyUnchanged,
  writeImportReports,
  type ImportRun,
} from './import-steps.js';
import { holdLeanHeap, isLeanMemoryFile, openSpreadsheet, type SpreadsheetReader } from './read/index.js';
import { closeRegister, closeUnfinished, openRegister } from './register.js';
import { createRowSpool, loadXlsxWriter, prepareReportDir, type ReportSummary } from './report/index.js';

export type {
  ClaimSteps,
  EarlierRuns,
  FinalPlace,
  ImportHooks,
  PipelineDeps,
  PreparedArchive,
  ProcessRequest,
  ProcessResult,
  ReadFile,
} from './import-request.js';

export async function processFile(deps: PipelineDeps, request: ProcessRequest): Promise<ProcessResult> {
  let readerTaken = false;
  const takeReader = async (): Promise<SpreadsheetReader> => {
    readerTaken = true;
    return (await request.reader) ?? openSpreadsheet(request.filePath, deps.config.import);
  };
  try {
    await request.claim?.settle();
    return await importFile({ ...deps, clock: deps.clock ?? systemClock }, request, takeReader);
  } finally {
    // A reader opened ahead for a file rejected (or a database that failed) before reading began.
    if (!readerTaken)
      void request.reader?.then(
        (reader) => reader?.close(),
        () => undefined,
      );
  }
}

async function importFile(
  deps: ImportRun['deps'],
  request: ProcessRequest,
  takeReader: () => Promise<SpreadsheetReader>,
): Promise<ProcessResult> {
  const startedAt = deps.clock();
  const file = await fingerprintFile(request.filePath);
  // A large file is imported in lean-memory mode, reports included (src/xlsx/memory-mode.ts); any
  // other loads exceljs for the xlsx report now, while the reader starts.
  const lean = isLeanMemoryFile(file.bytes);
  const releaseLeanHeap = lean ? holdLeanHeap() : undefined;
  if (!lean) loadXlsxWriter().catch(() => undefined);
  try {
    await prepareReportDir(request.reportDir);
    const earlier = await withDatabaseErrors(deps.db.location, () => findImportOfContent(deps.db.knex, file.sha256));
    // Asked before the register opens, so that the new run is not among them.
    const earlierRuns = (await request.claim?.earlierRuns()) ?? { running: [], changed: [] };
    const importId = await openRegister(deps, request, file, startedAt);
    const spool = createRowSpool(tmpdir());
    const run: ImportRun = { deps, request, file, startedAt, lean, importId, spool };
    try {
      return await importRegistered(run, takeReader, { earlier, earlierRuns });
    } finally {
      await spool.dispose();
    }
  } finally {
    releaseLeanHeap?.();
  }
}

/** From an open register row to a closed one: the steps in order, each in its own function. */
async function importRegistered(
  run: ImportRun,
  takeReader: () => Promise<SpreadsheetReader>,
  context: { earlier: ImportRecord | undefined; earlierRuns: EarlierRuns },
): Promise<ProcessResult> {
  const { deps, request, importId, spool } = run;
  const log = deps.logger.child({ module: 'pipeline', file: request.originalName, importId });
  log.info('import.started', { sha256: run.file.sha256, bytes: run.file.bytes, dryRun: request.dryRun });
  let closed = false;
  try {
    // read → validate → plan and check the guards (SPEC §9; hooks.afterPlan) → apply → deactivate absent (hooks.afterApply, SPEC §8)
    const applied = await readAndApply(run, takeReader);
    await spool.finish();
    const summary = summarize(run, applied, context.earlier);
    summary.auditHead = await withDatabaseErrors(deps.db.location, () => lastEventOf(deps.db.knex, importId));
    const { paths: reports, timing } = await writeImportReports(run, summary);
    await verifyUnchanged(run, reports);
    const carriedPasswords = carriesPasswords(applied);
    const archive = await request.claim?.prepareArchive({
      importId,
      success: summary.outcome === 'imported',
      held: summary.outcome === 'held',
      reports,
      carriedPasswords,
    });
    const place: FinalPlace = archive?.place ?? { filePath: request.filePath, reports };
    if (importId !== null) {
      // Seam, SPEC §11–12: hooks.inClosingTransaction writes the outbox rows in this same transaction.
      // A mirror feed's roster step (SPEC §8) commits with the register row, or not at all.
      const applies = summary.outcome === 'imported' || summary.outcome === 'imported_with_errors';
      const settle = applies ? applied.totals?.settle : undefined;
      await closeRegister(deps, { importId, summary, place, earlier: context.earlierRuns, settle }, request.hooks);
      closed = true;
    }
    await archive?.publish();
    const { outcome, counts, durationMs: ms, error } = summary;
    const rssMb = Math.round(process.memoryUsage.rss() / 1048576);
    log.info('import.finished', { outcome, counts, ms, ...timing, rssMb, error: error?.code });
    if (outcome === 'held') {
      const guards = (summary.guards ?? []).map(({ guard, limit, planned }) => ({ guard, limit, planned }));
      log.warn('import.held', { guards, approve: summary.approveCommand, file: place.filePath });
    }
    return resultOf(summary, place, carriedPasswords);
  } catch (error) {
    // Not the file's fault: leave the file for a retry, record why, and let the caller decide.
    logUnfinished(run, log, error);
    if (importId !== null && !closed) await closeUnfinished(deps, { importId, request, counts: spool.counts }, error);
    throw error;
  }
}

function resultOf(summary: ReportSummary, place: FinalPlace, carriedPasswords: boolean): ProcessResult {
  const redacted = (place.redactedSha256 ?? null) !== null;
  const { reports, filePath } = place;
  return { summary, reports, filePath, redacted, exitCode: exitCodeOf(summary.outcome), carriedPasswords };
}

function logUnfinished(run: ImportRun, log: ReturnType<ImportRun['deps']['logger']['child']>, error: unknown): void {
  const code = (error as { code?: string }).code;
  const counts = run.spool.counts;
  if (code === 'IMPORT_INTERRUPTED') {
    const reason =
      run.request.source !== 'cli'
        ? 'stop requested; the file stays claimed and is imported again at the next start'
        : 'stop requested; what was committed is kept';
    log.warn('import.interrupted', { reason, counts });
  } else if (code === 'FILE_CHANGED_DURING_IMPORT') {
    log.warn('import.file_changed', { err: describeError(error), counts });
  } else {
    log.error('import.failed', { err: describeError(error) });
  }
}
