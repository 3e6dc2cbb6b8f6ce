/**
 * Deciding a hold (SPEC §9), for `usersync holds` and the daemon alike.
 *
 * - Approving records the decision (once: db/repositories/holds.ts) with an `import.approved`
 *   event. The held file is then applied by whoever holds the folders' lock: the daemon, which
 *   polls for approved holds, or the command itself when no daemon runs. Either way the file goes
 *   through the daemon's own steps (claim-steps.ts) from its place in held/: planned again against
 *   the directory as it is now, with the guards let through up to the counts that were approved;
 *   a guard counting more holds it again, as a new hold.
 * - Declining records the decision with an `import.declined` event and moves the file, redacted,
 *   to error/ with its reports.
 */
import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { withDatabaseErrors } from '../db/errors.js';
import type { Database } from '../db/knex.js';
import type { AuditEvent } from '../db/repositories/audit.js';
import { approvedCounts, decide, getHold, newerAppliedImport, resolve, type Hold } from '../db/repositories/holds.js';
import { describeError, fail } from '../errors.js';
import { datedFolder, prepareFinish, sha256Of } from '../pipeline/archive.js';
import { moveExclusive } from '../pipeline/claim.js';
import type { AuditTrail } from '../pipeline/audit.js';
import type { Logger } from '../logging/logger.js';
import type { Claimed } from './claim-steps.js';

export interface HoldDecision {
  by: string;
  note: string | null;
  /** Approve even though a newer file of the feed was applied since. */
  force?: boolean;
}

interface HoldDeps {
  config: Readonly<Config>;
  db: Database;
  audit: AuditTrail;
}

/** Checks that the hold can still be approved, then records the approval. */
export async function approveHold(deps: HoldDeps, hold: Hold, decision: HoldDecision): Promise<void> {
  if (hold.decision !== null) throw decidedAlready(hold);
  const newer = await withDatabaseErrors(deps.db.location, () => newerAppliedImport(deps.db.knex, hold));
  if (newer && !decision.force)
    throw fail('HOLD_OUTDATED', {
      message: `Import ${newer.id} (${newer.originalName}) of the feed "${hold.feed}" was applied after import ${hold.id} was held: applying the older file now would undo it. Decline this hold, or pass --force to apply it anyway.`,
    });
  const actual = await sha256Of(hold.filePath).catch(() => undefined);
  if (actual !== hold.sha256)
    throw fail('HOLD_FILE_CHANGED', {
      message: actual
        ? `${hold.filePath} is not the file that was held: its sha256 is ${actual}, the held file's was ${hold.sha256}.`
        : `The held file ${hold.filePath} is missing.`,
    });
  await record(deps, hold, 'approved', decision, { ...(newer ? { forcedPast: newer.id } : {}) });
}

/**
 * Records the decline and moves the file, redacted, to error/ with its reports. The move is
 * prepared first (names chosen, the redacted copy written): a decline that cannot be carried out
 * is not recorded, so it can be tried again.
 */
export async function declineHold(deps: HoldDeps, hold: Hold, decision: HoldDecision): Promise<string> {
  if (hold.decision !== null) throw decidedAlready(hold);
  const move = await prepareToError(deps, hold);
  try {
    await record(deps, hold, 'declined', decision, {});
  } catch (error) {
    await move.discard();
    throw error;
  }
  return move.publish();
}

/**
 * Why an approved hold must not be applied now, checked when its import is about to begin (the
 * approval may be hours old): the held file changed or is gone, or a newer file of the feed was
 * applied after the approval (one applied before it was refused, or accepted with --force).
 */
export async function approvalProblem(deps: HoldDeps, hold: Hold): Promise<string | undefined> {
  const actual = hold.filePath ? await sha256Of(hold.filePath).catch(() => undefined) : undefined;
  if (actual === undefined) return `the held file ${hold.filePath || '(none recorded)'} is gone`;
  if (actual !== hold.sha256) return `${hold.filePath} is no longer the file that was approved (sha256 ${actual})`;
  const after = hold.decidedAt ?? hold.heldSince;
  const newer = await withDatabaseErrors(deps.db.location, () => newerAppliedImport(deps.db.knex, hold, after));
  if (newer)
    return `import ${newer.id} (${newer.originalName}) of the feed "${hold.feed}" was applied after the approval; applying the older file now would undo it`;
  return undefined;
}

/**
 * An approval that can no longer be carried out (approvalProblem) is declined in its stead, by
 * whoever found out, with the reason, audited; the file goes to error/ like a declined one's
 * (when it is still there). Nothing is applied.
 */
export async function voidApproval(deps: HoldDeps, hold: Hold, by: string, reason: string): Promise<void> {
  const at = new Date().toISOString();
  const note = `approval not carried out: ${reason}`;
  const event: AuditEvent = {
    at,
    importId: hold.id,
    row: null,
    username: null,
    action: 'import.declined',
    changes: { heldImport: hold.id, file: hold.originalName, sha256: hold.sha256, note, approvedBy: hold.decidedBy },
    actor: by,
  };
  const voided = await withDatabaseErrors(deps.db.location, () =>
    deps.db.knex.transaction(async (trx) => {
      const changed = await trx('imports')
        .where({ id: hold.id, decision: 'approved' })
        .whereNull('resolved_by')
        .update({ decision: 'declined', decided_by: by.slice(0, 255), decided_at: at, decision_note: note });
      if (Number(changed) !== 1) return false;
      await deps.audit.record(trx, [event]);
      return true;
    }),
  );
  if (!voided) return;
  deps.audit.committed([event]);
  if (await exists(hold.filePath)) await (await prepareToError(deps, hold)).publish();
}

/** The held file (redacted) and its reports on their way to error/: staged, moved by `publish`. */
async function prepareToError(
  deps: HoldDeps,
  hold: Hold,
): Promise<{ publish(): Promise<string>; discard(): Promise<void> }> {
  const { config } = deps;
  const { finished, publish } = await prepareFinish({
    claimedPath: hold.filePath,
    originalName: hold.originalName,
    // Named after the held import, like every file in archive/ and error/ (SPEC §2).
    importId: hold.id,
    success: false,
    reports: { jsonPath: hold.reportJsonPath ?? '', xlsxPath: hold.reportXlsxPath ?? '' },
    folders: config.folders,
    now: new Date(),
    redact: config.archive.redactPasswords
      ? async (from, to) => (await import('../pipeline/redact.js')).writeRedactedCopy(from, to, config.import)
      : undefined,
  });
  return {
    discard: () => rm(`${hold.filePath}.redacted.tmp`, { force: true }),
    async publish() {
      await publish();
      await withDatabaseErrors(deps.db.location, () =>
        deps.db
          .knex('imports')
          .where('id', hold.id)
          .update({
            file_path: finished.filePath,
            report_json_path: finished.reportJsonPath,
            report_xlsx_path: finished.reportXlsxPath,
            archived_sha256: finished.redactedSha256,
            redacted: finished.redactedSha256 !== null,
          }),
      );
      return finished.filePath;
    },
  };
}

const exists = (file: string): Promise<boolean> =>
  file === ''
    ? Promise.resolve(false)
    : lstat(file).then(
        () => true,
        () => false,
      );

/**
 * The held file as the daemon's steps take it: a claim in held/ carrying its approval — the counts
 * of its guards, and of the approved holds it was held again from (db/repositories/holds.ts).
 */
export async function approvedClaim(db: Database, hold: Hold): Promise<Claimed> {
  const counts = await withDatabaseErrors(db.location, () => approvedCounts(db.knex, hold));
  return {
    path: hold.filePath,
    claimId: `hold-${hold.id}`,
    originalName: hold.originalName,
    source: 'approval',
    changedImports: [],
    feed: hold.feed,
    approval: { holdId: hold.id, counts },
  };
}

/**
 * Once the approved file's import has finished, the hold's own reports leave held/ too, so that
 * held/ holds only what waits for a decision: beside the file in archive/ or error/, or — when the
 * file was held again, as a new hold with reports of its own — in error/ (this hold was not
 * applied). They keep their `<holdId>_` names; the register follows them. Never throws: the file
 * is applied and finished whatever becomes of its old reports (a failure is logged).
 */
export async function retireHeldReports(
  deps: { config: Readonly<Config>; db: Database; logger: Logger },
  holdId: number,
  applied: { outcome: string; filePath: string },
): Promise<void> {
  try {
    const hold = await getHold(deps.db.knex, holdId);
    if (!hold) return;
    const folder =
      applied.outcome === 'held' ? datedFolder(deps.config.folders.error, new Date()) : path.dirname(applied.filePath);
    const moved: Record<string, string> = {};
    for (const [column, from] of [
      ['report_json_path', hold.reportJsonPath],
      ['report_xlsx_path', hold.reportXlsxPath],
    ] as const) {
      if (!from || path.dirname(from) !== path.resolve(deps.config.folders.held)) continue;
      const to = path.join(folder, path.basename(from));
      await moveExclusive(from, to);
      moved[column] = to;
    }
    if (Object.keys(moved).length > 0) await deps.db.knex('imports').where('id', holdId).update(moved);
  } catch (error) {
    deps.logger.warn('hold.reports_not_moved', { importId: holdId, err: describeError(error) });
  }
}

/** Links the hold to the import that applied it; runs in the transaction that closes that import. */
export const resolveHold = resolve;

async function record(
  deps: HoldDeps,
  hold: Hold,
  outcome: 'approved' | 'declined',
  decision: HoldDecision,
  extra: Record<string, unknown>,
): Promise<void> {
  const at = new Date().toISOString();
  const event: AuditEvent = {
    at,
    importId: hold.id,
    row: null,
    username: null,
    action: outcome === 'approved' ? 'import.approved' : 'import.declined',
    changes: { heldImport: hold.id, file: hold.originalName, sha256: hold.sha256, note: decision.note, ...extra },
    actor: decision.by,
  };
  const won = await withDatabaseErrors(deps.db.location, () =>
    deps.db.knex.transaction(async (trx) => {
      if (!(await decide(trx, hold.id, { decision: outcome, by: decision.by, at, note: decision.note }))) return false;
      await deps.audit.record(trx, [event]);
      return true;
    }),
  );
  if (!won) throw decidedAlready(hold);
  deps.audit.committed([event]);
}

const decidedAlready = (hold: Hold) =>
  fail('HOLD_DECIDED', {
    message: `Import ${hold.id} (${hold.originalName}) was already ${hold.decision ?? 'decided'}${hold.decidedBy ? ` by ${hold.decidedBy}` : ''}.`,
  });
