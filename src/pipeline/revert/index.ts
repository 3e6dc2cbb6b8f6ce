/**
 * `usersync imports revert <id>` (SPEC §10): undoes an applied import as a new import of source
 * `revert`, the register linking the two both ways.
 *
 *   check the import → open register → stream its user events → plan and check the guards
 *   → apply (the import's own sinks) → report → close register
 *
 * Set-based like an import: the import's user events are read a page at a time (by id, on the
 * import_id index), the page's users in one look-up, and the batches go through applyRows with
 * the import's own plan, guards, writer thread and audit (revert-batch.ts makes their intents).
 */
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import type { Knex } from 'knex';
import { withDatabaseErrors } from '../../db/errors.js';
import { queryAuditEvents, type AuditEvent, type StoredAuditEvent } from '../../db/repositories/audit.js';
import { lastEventOf } from '../../db/repositories/audit-chain.js';
import { closeImport, getImport, openImport, type ImportRecord } from '../../db/repositories/imports.js';
import { isoNow, systemClock, type Clock } from '../../db/time.js';
import { privilegedKeys, type GuardName } from '../../domain/guards.js';
import { describeError, fail } from '../../errors.js';
import { applyRows, openImportWriter, type ApplyTotals } from '../apply/index.js';
import type { GuardDecision, SafetySettings } from '../apply/plan.js';
import { BUILT_IN_FEED, limitsOf } from '../feeds.js';
import type { PipelineDeps } from '../import-request.js';
import { closeRegister } from '../register.js';
import {
  createRowSpool,
  writeReports,
  type Outcome,
  type ReportCounts,
  type ReportPaths,
  type ReportSummary,
  type RowResult,
  type RowSpool,
} from '../report/index.js';
import { RevertNotes, revertPreparer, type RevertEvents } from './revert-batch.js';

export interface RevertRequest {
  /** The import to undo. */
  importId: number;
  dryRun: boolean;
  /** Set back fields that changed again after the import too. */
  force: boolean;
  actor: string;
  reportDir: string;
  /** `--allow`: guards applied despite their limits (audited). */
  allow?: ReadonlySet<GuardName> | undefined;
  onProgress?: ((rows: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface RevertResult {
  summary: ReportSummary;
  reports: ReportPaths;
  exitCode: 0 | 1 | 2 | 4;
}

/** Users per batch: one look-up and one page of events each. */
const USERS_PER_BATCH = 500;

/** Statuses an import has once it wrote changes; `interrupted` and `failed` keep what they committed. */
const REVERTIBLE = new Set(['imported', 'imported_with_errors', 'interrupted', 'failed']);

export async function revertImport(deps: PipelineDeps, request: RevertRequest): Promise<RevertResult> {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock();
  const target = await revertible(deps, request.importId);
  const name = `revert of import ${target.id} (${target.originalName})`;
  const sha256 = createHash('sha256').update(`usersync revert of import ${target.id}`).digest('hex');
  const feed = target.feed ?? BUILT_IN_FEED;
  const revertId = request.dryRun ? null : await openRevert(deps, request, { target, name, sha256, feed, startedAt });
  const spool = createRowSpool(tmpdir());
  let closed = false;
  try {
    const notes = new RevertNotes();
    const totals = await applyRevert({ ...deps, clock }, request, { revertId, feed, notes, spool });
    for (const conflict of notes.conflicts) spool.add(conflict);
    await spool.finish();
    const summary = summarize(deps, request, { revertId, name, sha256, feed, startedAt, totals, notes, spool });
    // An anchor for `usersync audit verify`, as every report carries (SPEC §10).
    summary.auditHead = await withDatabaseErrors(deps.db.location, () => lastEventOf(deps.db.knex, revertId));
    const stem = revertId === null ? `revert-of-${target.id}.dry-run` : `${revertId}_revert-of-${target.id}`;
    const reports = await writeReports(
      {
        summary,
        rows: (filter) => spool.rows(filter),
        rowsJsonBody: () => spool.rowsJsonBody(),
        rowsSheetXml: () => spool.rowsSheetXml(),
        failedRows: () => spool.failedRows(),
      },
      request.reportDir,
      stem,
    );
    if (revertId !== null) {
      const place = { filePath: reports.jsonPath, reports };
      await closeRegister(
        { ...deps, clock },
        { importId: revertId, summary, place, earlier: { running: [], changed: [] } },
        undefined,
      );
      closed = true;
    }
    const log = deps.logger.child({ module: 'revert', importId: revertId, reverts: target.id });
    log.info('revert.finished', { outcome: summary.outcome, counts: summary.counts, ms: summary.durationMs });
    return { summary, reports, exitCode: exitCodeOf(summary.outcome) };
  } catch (error) {
    if (revertId !== null && !closed) {
      const code = (error as { code?: string }).code ?? 'UNEXPECTED';
      const why = { code, message: String(describeError(error).message) };
      const status = code === 'IMPORT_INTERRUPTED' ? 'interrupted' : 'failed';
      await closeImport(deps.db.knex, revertId, {
        status,
        error: why,
        finishedAt: clock().toISOString(),
        counts: { ...spool.counts },
      }).catch(() => undefined);
    }
    throw error;
  } finally {
    await spool.dispose();
  }
}

/** The import, when it exists and wrote changes; a usage error saying what to do otherwise. */
async function revertible(deps: PipelineDeps, id: number): Promise<ImportRecord> {
  const target = await withDatabaseErrors(deps.db.location, () => getImport(deps.db.knex, id));
  if (!target)
    throw fail('IMPORT_NOT_FOUND', {
      message: `No import has the id ${id} in ${deps.db.description}; there is nothing to revert.`,
    });
  if (target.dryRun || !REVERTIBLE.has(target.status)) {
    const why =
      target.status === 'running'
        ? 'it is still running; wait for it to finish'
        : target.status === 'held'
          ? 'it is held and wrote nothing; decline it with `usersync holds decline ' + id + '`'
          : `it is ${target.status.replace(/_/g, ' ')} and wrote no user changes`;
    throw fail('REVERT_NOT_APPLIED', { message: `Import ${id} cannot be reverted: ${why}.` });
  }
  return target;
}

/** The revert's register row (`running`, source `revert`, naming the import it undoes) and its import.started. */
async function openRevert(
  deps: PipelineDeps,
  request: RevertRequest,
  revert: { target: ImportRecord; name: string; sha256: string; feed: string; startedAt: Date },
): Promise<number> {
  const { target, name, sha256, feed, startedAt } = revert;
  const knex = deps.db.knex;
  const id = await withDatabaseErrors(deps.db.location, () =>
    openImport(knex, {
      originalName: name,
      sha256,
      bytes: 0,
      source: 'revert',
      host: hostname(),
      actor: request.actor,
      feed,
      revertsImportId: target.id,
      dryRun: false,
      filePath: request.reportDir,
      startedAt: startedAt.toISOString(),
    }),
  );
  const started: AuditEvent = {
    at: startedAt.toISOString(),
    importId: id,
    row: null,
    username: null,
    action: 'import.started',
    changes: { source: 'revert', revertsImport: target.id, force: request.force },
    actor: request.actor,
  };
  await withDatabaseErrors(deps.db.location, () => deps.audit.write(knex, [started]));
  return id;
}

async function applyRevert(
  deps: PipelineDeps & { clock: Clock },
  request: RevertRequest,
  run: { revertId: number | null; feed: string; notes: RevertNotes; spool: RowSpool },
): Promise<ApplyTotals> {
  const { config, db } = deps;
  const writer = openImportWriter(db, config.import, { dryRun: request.dryRun, lean: false });
  try {
    const safety: SafetySettings | undefined = config.safety.enabled
      ? {
          limits: limitsOf(config, run.feed),
          privileged: privilegedKeys(config.safety.privileged),
          allow: request.allow ?? new Set(),
        }
      : undefined;
    return await applyRows<RevertEvents>(deps, userEventPages(db.knex, request.importId), revertRows(run.spool), {
      importId: run.revertId,
      actor: request.actor,
      dryRun: request.dryRun,
      writer,
      feed: run.feed,
      safety,
      beforeWrite: async (decision) => {
        if (decision.guards.length > 0) await auditAllowed(deps, request, run.revertId, decision);
      },
      onProgress: request.onProgress,
      signal: request.signal,
      prepare: revertPreparer({ importId: request.importId, force: request.force, notes: run.notes }),
    });
  } finally {
    await writer?.close();
  }
}

const USER_ACTIONS: ReadonlySet<string> = new Set(['user.created', 'user.updated', 'user.deactivated']);

/** The import's user events, oldest first, in pages of USERS_PER_BATCH (queryAuditEvents pages by id). */
async function* userEventPages(knex: Knex, importId: number): AsyncIterable<RevertEvents> {
  let page: StoredAuditEvent[] = [];
  for await (const event of queryAuditEvents(knex, { importId })) {
    if (!USER_ACTIONS.has(event.action)) continue;
    page.push(event);
    if (page.length >= USERS_PER_BATCH) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/**
 * The spool as the apply stage fills it for a revert: a user it changed is `reverted` (a dry
 * run's or held revert's `would-revert`), and a user a mirror deactivated has no row (null).
 */
function revertRows(spool: RowSpool): RowSpool {
  const counts = spool.counts as ReportCounts;
  counts.reverted = 0;
  counts.conflicts = 0;
  const relabelled = Object.create(spool) as RowSpool;
  relabelled.add = (result: RowResult, cells) => {
    const status =
      result.status === 'updated' ? 'reverted' : result.status === 'would-update' ? 'would-revert' : result.status;
    spool.add({ ...result, status, row: result.row === 0 ? null : result.row }, cells);
  };
  return relabelled;
}

/** Guards let through by `--allow` are audited before the first write, with who did it. */
async function auditAllowed(
  deps: PipelineDeps & { clock: Clock },
  request: RevertRequest,
  revertId: number | null,
  decision: GuardDecision,
): Promise<void> {
  const guards = decision.guards.map(({ guard, limit, planned }) => ({ guard, limit, planned }));
  const event: AuditEvent = {
    at: isoNow(deps.clock),
    importId: revertId,
    row: null,
    username: null,
    action: 'import.guards_allowed',
    changes: { guards, allowed: decision.allowed },
    actor: request.actor,
  };
  await withDatabaseErrors(deps.db.location, () => deps.audit.write(deps.db.knex, [event]));
}

function summarize(
  deps: PipelineDeps,
  request: RevertRequest,
  run: {
    revertId: number | null;
    name: string;
    sha256: string;
    feed: string;
    startedAt: Date;
    totals: ApplyTotals;
    notes: RevertNotes;
    spool: RowSpool;
  },
): ReportSummary {
  const { totals, notes, spool } = run;
  const counts = { ...spool.counts };
  const decision = totals.guards;
  const held = !request.dryRun && decision?.held === true;
  const outcome: Outcome = held
    ? 'held'
    : counts.failed > 0 || (counts.conflicts ?? 0) > 0
      ? 'imported_with_errors'
      : 'imported';
  const finishedAt = (deps.clock ?? systemClock)();
  const passwords = notes.passwords;
  const warnings =
    passwords.length === 0
      ? []
      : [
          `${passwords.length === 1 ? '1 user' : `${passwords.length} users`} had the password changed by import ${request.importId}; passwords are not reverted (no old password is kept): reset ${passwords.length === 1 ? 'it' : 'them'} (listed in revert.passwordsNotReverted).`,
        ];
  return {
    importId: run.revertId,
    file: { name: run.name, sha256: run.sha256, bytes: 0 },
    dryRun: request.dryRun,
    outcome,
    counts,
    warnings,
    startedAt: run.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - run.startedAt.getTime(),
    sheetName: null,
    headerRow: null,
    database: deps.db.description,
    unlistedFailures: spool.unlistedFailures,
    actor: request.actor,
    feed: run.feed,
    ...(decision ? { guards: decision.guards } : {}),
    ...(decision && decision.allowed.length > 0 ? { allowed: decision.allowed } : {}),
    ...(held
      ? {
          approveCommand: `usersync imports revert ${request.importId}${request.force ? ' --force' : ''} --allow ${decision.guards.map((t) => t.guard).join(',')}`,
        }
      : {}),
    revert: { revertsImportId: request.importId, force: request.force, passwordsNotReverted: [...passwords] },
  };
}

const exitCodeOf = (outcome: Outcome): 0 | 1 | 2 | 4 =>
  outcome === 'imported' ? 0 : outcome === 'imported_with_errors' ? 1 : outcome === 'held' ? 4 : 2;

export type { ImportRecord };
