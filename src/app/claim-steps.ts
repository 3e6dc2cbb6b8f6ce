/**
 * The daemon's steps around a claimed file, handed to the orchestrator (pipeline/process-file.ts)
 * as ClaimSteps: settle before reading, check it did not change after, find the earlier runs of
 * the claim this run replaces, and prepare its place in archive/ or error/.
 */
import type { Config } from '../config/schema.js';
import type { Database } from '../db/knex.js';
import { findRunningImports } from '../db/repositories/imports.js';
import { prepareFinish } from '../pipeline/archive.js';
import { resolve as resolveHold } from '../db/repositories/holds.js';
import type { GuardCounts } from '../domain/guards.js';
import { stemOf } from '../pipeline/claim.js';
import type { ClaimSteps, ProcessRequest } from '../pipeline/import-request.js';
import { queueImportMessage } from '../notify/enqueue.js';
import { feedOfInboxFile } from './sources.js';
import { checkUnchanged, settleClaimed, type Snapshot } from '../pipeline/settle.js';

export interface Claimed {
  path: string;
  claimId: string;
  originalName: string;
  /** `approval`: a held file approved with `holds approve`, taken from folders.held. */
  source: 'watch' | 'recover' | 'approval';
  /** Imports of this claim closed because the file changed under them; the run that finishes it supersedes them. */
  changedImports: number[];
  /** The feed, when known already (a held file keeps the one it was held under). */
  feed?: string;
  /** An approved hold (SPEC §9): its import, and the guards' counts it was approved with. */
  approval?: { holdId: number; counts: Partial<GuardCounts> };
}

/**
 * What the daemon asks of processFile for a claimed file (the command applying an approved hold
 * asks the same): where it is, its feed, the report names in processing/, and for an approved
 * hold the approval — linked to the hold in the transaction that closes the import, where the
 * message telling people about it is queued too (notify/enqueue.ts).
 */
export function claimedRequest(
  claimed: Claimed,
  config: Readonly<Config>,
): Omit<ProcessRequest, 'actor' | 'claim'> & { feed: string } {
  const feed = claimed.feed ?? feedOfInboxFile(config, claimed.originalName);
  const { approval } = claimed;
  return {
    filePath: claimed.path,
    originalName: claimed.originalName,
    source: claimed.source,
    feed,
    dryRun: false,
    reportDir: config.folders.processing,
    reportStem: `${claimed.claimId}__${stemOf(claimed.originalName)}`,
    ...(approval ? { approval } : {}),
    hooks: {
      // Both in the one transaction that closes the import: the hold is linked to the import that
      // applied it, and the message about it is queued (SPEC §11) — never one without the other.
      inClosingTransaction: async (trx, summary) => {
        if (approval && summary.importId !== null) await resolveHold(trx, approval.holdId, { by: summary.importId });
        await queueImportMessage(trx, config, summary);
      },
    },
  };
}

export interface ClaimContext {
  config: Readonly<Config>;
  db: Database;
  signal: AbortSignal;
  /** What the file waits for (a writer still at it), or null once it no longer waits. */
  onWaiting(reason: string | null): void;
}

export function claimSteps(claimed: Claimed, context: ClaimContext): ClaimSteps {
  const { config } = context;
  let settled: Snapshot | undefined;
  return {
    async settle() {
      settled = await settleClaimed(claimed.path, {
        // A CSV must also stay unchanged for watch.stableMs after the claim: it has no end marker,
        // where a workbook's zip directory is one.
        quietMs: /\.csv$/i.test(claimed.originalName) ? config.watch.stableMs : 0,
        intervalMs: Math.max(100, Math.min(1000, config.watch.stableMs / 2)),
        signal: context.signal,
        onWaiting: context.onWaiting,
      });
    },
    async verifyUnchanged(read) {
      if (!settled) throw new Error('verifyUnchanged before settle');
      try {
        await checkUnchanged(claimed.path, settled, read);
      } catch (error) {
        if (read.importId !== null) claimed.changedImports.push(read.importId);
        throw error;
      }
    },
    async earlierRuns() {
      // Runs left `running` by a crash or a stop (found again at the start), or by a failure whose
      // own close could not reach the database: the claimed path is this claim's alone.
      const running = await findRunningImports(context.db.knex, claimed.path);
      return { running: running.map((run) => run.id), changed: [...claimed.changedImports] };
    },
    async prepareArchive(done) {
      // A held file keeps its passwords: it must still be applied when approved (SPEC §9).
      const redact =
        !done.held && done.carriedPasswords && config.archive.redactPasswords
          ? (from: string, to: string) => redactedCopy(from, to, config.import)
          : undefined;
      const { finished, publish } = await prepareFinish({
        claimedPath: claimed.path,
        originalName: claimed.originalName,
        importId: done.importId,
        success: done.success,
        held: done.held,
        reports: done.reports,
        folders: config.folders,
        now: new Date(),
        redact,
      });
      const reports = { jsonPath: finished.reportJsonPath, xlsxPath: finished.reportXlsxPath };
      return { place: { filePath: finished.filePath, reports, redactedSha256: finished.redactedSha256 }, publish };
    },
  };
}

/** Loaded on first use: it brings exceljs (~27 MB) into a daemon that may never need it. */
async function redactedCopy(from: string, to: string, settings: Config['import']): Promise<boolean> {
  const { writeRedactedCopy } = await import('../pipeline/redact.js');
  return writeRedactedCopy(from, to, settings);
}
