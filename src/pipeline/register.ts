/**
 * The import's row in the register (db/repositories/imports.ts), as the orchestrator sees it:
 * opened `running` before the file is read, and closed once — with the outcome and the final
 * place of the file and its reports — or, when the import could not finish, closed as failed or
 * interrupted with what it had committed.
 */
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { withDatabaseErrors } from '../db/errors.js';
import type { AuditEvent } from '../db/repositories/audit.js';
import { closeImport, markSuperseded, openImport } from '../db/repositories/imports.js';
import { describeError } from '../errors.js';
import type { Clock } from '../db/time.js';
import { BUILT_IN_FEED } from './feeds.js';
import type { Fingerprint } from './fingerprint.js';
import type { EarlierRuns, FinalPlace, ImportHooks, PipelineDeps, ProcessRequest } from './import-request.js';
import type { ReportCounts, ReportSummary } from './report/index.js';

/** Opens the row (`running`, at the file's current path) and audits import.started; null for a dry run. */
export async function openRegister(
  deps: PipelineDeps,
  request: ProcessRequest,
  file: Fingerprint,
  startedAt: Date,
): Promise<number | null> {
  if (request.dryRun) return null;
  const register = deps.db.knex;
  const importId = await withDatabaseErrors(deps.db.location, () =>
    openImport(register, {
      originalName: request.originalName,
      sha256: file.sha256,
      bytes: file.bytes,
      source: request.source,
      host: hostname(),
      actor: request.actor,
      feed: request.feed ?? BUILT_IN_FEED,
      holdId: request.approval?.holdId ?? null,
      dryRun: false,
      filePath: request.filePath,
      startedAt: startedAt.toISOString(),
    }),
  );
  const changes = {
    file: request.originalName,
    sha256: file.sha256,
    bytes: file.bytes,
    source: request.source,
    ...(request.approval ? { heldImport: request.approval.holdId } : {}),
  };
  const started: AuditEvent = {
    at: startedAt.toISOString(),
    importId,
    row: null,
    username: null,
    action: 'import.started',
    changes,
    actor: request.actor,
  };
  await withDatabaseErrors(deps.db.location, () => deps.audit.write(register, [started]));
  return importId;
}

/**
 * Closes the row with its outcome and final place, in one transaction with its audit event and
 * the earlier runs it replaces: a reader never sees the new run final while an old one of the same
 * file still looks `running`. The audit log line follows the commit.
 */
export async function closeRegister(
  deps: PipelineDeps,
  closing: {
    importId: number;
    summary: ReportSummary;
    place: FinalPlace;
    earlier: EarlierRuns;
    /** Writes that must commit with the row (a mirror's roster step, apply/mirror.ts), returning their events. */
    settle?:
      ((trx: Knex, context: { importId: number; actor: string; now: string }) => Promise<AuditEvent[]>) | undefined;
  },
  hooks: ImportHooks | undefined,
): Promise<void> {
  const { importId, summary, place, earlier, settle } = closing;
  const action =
    summary.outcome === 'rejected' ? 'import.rejected' : summary.outcome === 'held' ? 'import.held' : 'import.finished';
  const { outcome, counts, error } = summary;
  const changes = {
    outcome,
    counts,
    ...(error ? { error: error.code } : {}),
    ...(summary.outcome === 'held' ? { guards: guardsInBrief(summary) } : {}),
  };
  const actor = summary.actor ?? null;
  const event: AuditEvent = { at: summary.finishedAt, importId, row: null, username: null, action, changes, actor };
  let settled: AuditEvent[] = [];
  await withDatabaseErrors(deps.db.location, () =>
    deps.db.knex.transaction(async (trx) => {
      if (settle) {
        settled = await settle(trx, { importId, actor: actor ?? 'unknown', now: summary.finishedAt });
        await deps.audit.record(trx, settled);
      }
      await closeImport(trx, importId, {
        status: summary.outcome,
        finishedAt: summary.finishedAt,
        counts: summary.counts,
        error: summary.error ?? null,
        filePath: place.filePath,
        reportJsonPath: place.reports.jsonPath,
        reportXlsxPath: place.reports.xlsxPath,
        ...(summary.guards
          ? { guards: JSON.stringify({ tripped: summary.guards, allowed: summary.allowed ?? [] }) }
          : {}),
        ...(place.redactedSha256 !== undefined
          ? { archivedSha256: place.redactedSha256, redacted: place.redactedSha256 !== null }
          : {}),
      });
      await deps.audit.record(trx, [event]);
      const finishedAt = new Date().toISOString();
      for (const old of earlier.running) {
        await closeImport(trx, old, { status: 'interrupted', finishedAt, supersededBy: importId });
      }
      await markSuperseded(trx, earlier.changed, importId);
      await hooks?.inClosingTransaction?.(trx, summary);
    }),
  );
  deps.audit.committed([...settled, event]);
}

/** The tripped guards without their user lists: the audit trail records the verdict, the report the users. */
const guardsInBrief = (summary: ReportSummary) =>
  (summary.guards ?? []).map(({ guard, limit, planned }) => ({ guard, limit, planned }));

/**
 * The row of an import that could not finish, for a fault that is not the file's. A stop leaves
 * the daemon's run `running` (its next start imports the file again and closes it as superseded);
 * nothing re-runs a command line's, so that one is closed as interrupted now. Rows committed before
 * the stop or failure are counted, not hidden. Best effort: the database may be what failed.
 */
export async function closeUnfinished(
  deps: PipelineDeps & { clock: Clock },
  run: { importId: number; request: ProcessRequest; counts: ReportCounts },
  error: unknown,
): Promise<void> {
  const code = (error as { code?: string }).code;
  const interrupted = code === 'IMPORT_INTERRUPTED';
  if (interrupted && run.request.source !== 'cli') return;
  // A file that changed while it was read was not read whole: interrupted too; the daemon re-reads it.
  const status = interrupted || code === 'FILE_CHANGED_DURING_IMPORT' ? 'interrupted' : 'failed';
  const why = interrupted
    ? { code: 'IMPORT_INTERRUPTED', message: 'Stopped by a signal before the end of the file.' }
    : { code: code ?? 'UNEXPECTED', message: String(describeError(error).message) };
  const finishedAt = deps.clock().toISOString();
  await closeImport(deps.db.knex, run.importId, { status, error: why, finishedAt, counts: { ...run.counts } }).catch(
    () => undefined,
  );
}
