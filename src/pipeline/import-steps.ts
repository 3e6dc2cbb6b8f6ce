/**
 * The steps of one import between opening and closing its register row (process-file.ts states
 * their order): read and apply the rows, sum them up, write the reports. A file's own fault
 * (FileError) is not thrown past `readAndApply`: it becomes the rejection the reports describe.
 */
import { rm } from 'node:fs/promises';
import type { ImportRecord } from '../db/repositories/imports.js';
import type { Clock } from '../db/time.js';
import { COLUMN_INDEX, type RawRow } from '../domain/columns.js';
import { FileError, fail } from '../errors.js';
import { withDatabaseErrors } from '../db/errors.js';
import type { AuditEvent } from '../db/repositories/audit.js';
import { privilegedKeys } from '../domain/guards.js';
import { applyRows, openImportWriter, relabelRolledBack, type ApplyOptions, type ApplyTotals } from './apply/index.js';
import type { MirrorSettings } from './apply/mirror.js';
import type { GuardDecision, SafetySettings } from './apply/plan.js';
import { protectedUserMatcher } from '../domain/protected.js';
import { BUILT_IN_FEED, limitsOf } from './feeds.js';
import { stemOf } from './claim.js';
import type { Fingerprint } from './fingerprint.js';
import type { PipelineDeps, ProcessRequest, ReadFile } from './import-request.js';
import type { SheetHeader, SpreadsheetReader } from './read/index.js';
import {
  sameContentWarning,
  writeReports,
  type Outcome,
  type ReportPaths,
  type ReportSummary,
  type RowFilter,
  type RowSpool,
} from './report/index.js';

/** One import in progress: what every step needs. */
export interface ImportRun {
  deps: PipelineDeps & { clock: Clock };
  request: ProcessRequest;
  file: Fingerprint;
  startedAt: Date;
  /** Lean-memory mode (src/xlsx/memory-mode.ts). */
  lean: boolean;
  importId: number | null;
  /** Where the rows' results go, for the reports and the counts. */
  spool: RowSpool;
}

/** What reading and applying left: the header found, the totals, or why the file was rejected. */
export interface Applied {
  header?: SheetHeader;
  totals?: ApplyTotals;
  rejection?: FileError;
  /** Non-blank Password cells read. */
  passwordCells: number;
}

export async function readAndApply(run: ImportRun, takeReader: () => Promise<SpreadsheetReader>): Promise<Applied> {
  const applied: Applied = { passwordCells: 0 };
  try {
    checkSize(run.file, run.deps.config.import.maxFileBytes);
    await applyWithWriter(run, takeReader, applied);
  } catch (error) {
    if (!(error instanceof FileError)) throw error;
    applied.rejection = error;
  }
  return applied;
}

function checkSize(file: Fingerprint, max: number): void {
  if (file.bytes === 0) throw fail('FILE_EMPTY');
  const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
  if (file.bytes > max) {
    const message = `The file is ${mb(file.bytes)} MB; import.maxFileBytes allows ${mb(max)} MB.`;
    throw fail('FILE_TOO_LARGE', { message });
  }
}

async function applyWithWriter(
  run: ImportRun,
  takeReader: () => Promise<SpreadsheetReader>,
  applied: Applied,
): Promise<void> {
  const { deps, request } = run;
  // Opened before the reader is awaited, so that the writer thread's start-up overlaps the reader's.
  const writer = openImportWriter(deps.db, deps.config.import, { dryRun: request.dryRun, lean: run.lean });
  try {
    const reader = await takeReader();
    applied.header = reader.header;
    try {
      const batches = countPasswords(reader.batches(), applied);
      const options = { importId: run.importId, actor: request.actor, dryRun: request.dryRun, lean: run.lean, writer };
      const progress = { onProgress: request.onProgress, signal: request.signal };
      const safety: Pick<ApplyOptions, 'safety' | 'beforeWrite'> = {
        safety: safetySettings(run),
        beforeWrite: async (decision) => {
          if (decision.guards.length > 0) await auditAllowed(run, decision);
          await request.hooks?.afterPlan?.({ importId: run.importId, guards: decision });
        },
      };
      const feed = { feed: feedOf(request), mirror: mirrorSettings(run) };
      applied.totals = await applyRows(deps, batches, run.spool, { ...options, ...progress, ...safety, ...feed });
      await request.hooks?.afterApply?.({ importId: run.importId, counts: applied.totals.counts });
    } finally {
      await reader.close();
    }
  } finally {
    // Before the database closes, so that its close still folds the WAL in; also for a file rejected before its rows.
    await writer?.close();
  }
}

/** What the plan is checked against (SPEC §9): undefined when safety is off. */
function safetySettings(run: ImportRun): SafetySettings | undefined {
  const { config } = run.deps;
  if (!config.safety.enabled) return undefined;
  return {
    limits: limitsOf(config, feedOf(run.request)),
    privileged: privilegedKeys(config.safety.privileged),
    allow: run.request.allow ?? new Set(),
    approval: run.request.approval,
  };
}

/** The mirror settings of the request's feed (SPEC §8); undefined for a delta feed. */
function mirrorSettings(run: ImportRun): MirrorSettings | undefined {
  const { config } = run.deps;
  const feed = config.feeds.find((candidate) => candidate.name === feedOf(run.request));
  if (feed?.mode !== 'mirror') return undefined;
  const isProtected = protectedUserMatcher(config.safety.protectedUsers);
  return { feed: feed.name, missingBeforeDeactivate: feed.missingBeforeDeactivate, isProtected };
}

/** The feed of the request: the one it names, else the built-in one. */
export const feedOf = (request: ProcessRequest): string => request.feed ?? BUILT_IN_FEED;

/** Guards let through by `--allow` or an approval are audited before the first write, with who did it. */
async function auditAllowed(run: ImportRun, decision: GuardDecision): Promise<void> {
  const { deps, request, importId } = run;
  const guards = decision.guards.map(({ guard, limit, planned }) => ({ guard, limit, planned }));
  const by = request.approval ? { approvedHold: request.approval.holdId } : { allowed: decision.allowed };
  const event: AuditEvent = {
    at: deps.clock().toISOString(),
    importId,
    row: null,
    username: null,
    action: 'import.guards_allowed',
    changes: { guards, ...by },
    actor: request.actor,
  };
  await withDatabaseErrors(deps.db.location, () => deps.audit.write(deps.db.knex, [event]));
}

/** Passes batches through, counting non-blank Password cells. */
async function* countPasswords(batches: AsyncIterable<RawRow[]>, counter: Applied): AsyncIterable<RawRow[]> {
  const index = COLUMN_INDEX.password;
  for await (const batch of batches) {
    for (const row of batch) {
      const cell = row.cells[index];
      if (cell !== undefined && cell !== '') counter.passwordCells++;
    }
    yield batch;
  }
}

/** The report's summary. An atomic import rolled back created and updated nothing, whatever its rows said. */
export function summarize(run: ImportRun, applied: Applied, earlier: ImportRecord | undefined): ReportSummary {
  const { deps, request, file, spool, startedAt } = run;
  const { rejection, header } = applied;
  const rolledBack = rejection?.code === 'FILE_ROWS_FAILED_ATOMIC';
  const decision = applied.totals?.guards;
  const held = !rejection && !request.dryRun && decision?.held === true;
  const outcome: Outcome = rejection
    ? 'rejected'
    : held
      ? 'held'
      : spool.counts.failed > 0
        ? 'imported_with_errors'
        : 'imported';
  const finishedAt = deps.clock();
  return {
    importId: run.importId,
    file: { name: request.originalName, sha256: file.sha256, bytes: file.bytes },
    dryRun: request.dryRun,
    outcome,
    counts: rolledBack ? { ...spool.counts, created: 0, updated: 0 } : (applied.totals?.counts ?? { ...spool.counts }),
    // An earlier import of the same content is named, so an idempotent re-import does not look as if nothing happened.
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
    feed: feedOf(request),
    ...(decision ? guardFields(run, decision, held) : {}),
  };
}

/** The summary's guards (SPEC §9): those that hold the file, would hold it, or were let through. */
function guardFields(run: ImportRun, decision: GuardDecision, held: boolean): Partial<ReportSummary> {
  const fields: Partial<ReportSummary> = { guards: decision.guards };
  if (decision.allowed.length > 0) fields.allowed = decision.allowed;
  if (held) fields.approveCommand = approveCommand(run, decision);
  return fields;
}

/** The daemon holds a file for `holds approve`; the command line leaves it where it is, for `--allow`. */
function approveCommand(run: ImportRun, decision: GuardDecision): string {
  const { request, importId } = run;
  if (request.claim && importId !== null) return `usersync holds approve ${importId}`;
  const guards = decision.guards.map((trip) => trip.guard).join(',');
  return `usersync import ${shellQuoted(request.filePath)} --feed ${shellQuoted(feedOf(request))} --allow ${guards}`;
}

/** A word the shell takes as it is: single quotes, with any single quote in it closed and escaped. */
const shellQuoted = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** Writes both reports into the request's report folder; timed, as the reports of a large file take a while. */
export async function writeImportReports(
  run: ImportRun,
  summary: ReportSummary,
): Promise<{ paths: ReportPaths; timing: { reportMs: number; rssBeforeReportMb: number } }> {
  const { spool, request } = run;
  const started = Date.now();
  const rssBeforeReportMb = Math.round(process.memoryUsage.rss() / 1048576);
  const rolledBack = summary.error?.code === 'FILE_ROWS_FAILED_ATOMIC';
  const source = {
    summary,
    rows: rolledBack
      ? (filter?: RowFilter) => relabelRolledBack(spool.rows(filter))
      : (filter?: RowFilter) => spool.rows(filter),
    ...(rolledBack ? {} : { rowsJsonBody: () => spool.rowsJsonBody(), rowsSheetXml: () => spool.rowsSheetXml() }),
    failedRows: () => spool.failedRows(),
  };
  const paths = await writeReports(source, request.reportDir, request.reportStem ?? stemOf(request.originalName));
  return { paths, timing: { reportMs: Date.now() - started, rssBeforeReportMb } };
}

/**
 * The daemon's check that nobody was still writing the file it read (settle.ts). When it was,
 * the reports describe a file that was not complete: they are removed, and the error goes on.
 */
export async function verifyUnchanged(run: ImportRun, reports: ReportPaths): Promise<void> {
  const { claim } = run.request;
  if (!claim) return;
  const read: ReadFile = { importId: run.importId, sha256: run.file.sha256, bytes: run.file.bytes };
  await claim.verifyUnchanged(read).catch(async (error: unknown) => {
    await Promise.all([rm(reports.jsonPath, { force: true }), rm(reports.xlsxPath, { force: true })]);
    throw error;
  });
}

/** A file rejected part-way may hold passwords in rows never read: redact whenever it has the column. */
export const carriesPasswords = (applied: Applied): boolean =>
  applied.passwordCells > 0 ||
  (applied.rejection !== undefined && applied.header?.columns.includes('password') === true);

export const exitCodeOf = (outcome: Outcome): 0 | 1 | 2 | 4 =>
  outcome === 'imported' ? 0 : outcome === 'imported_with_errors' ? 1 : outcome === 'held' ? 4 : 2;
