/**
 * Holds (SPEC §9) as the register keeps them: an import with status `held` whose file waits in
 * folders.held, its decision (`approved` | `declined`, who, when, why), and the import that then
 * applied it (`resolved_by`, with `hold_id` on that import pointing back).
 *
 * A decision is taken once: `decide` only updates a hold nobody decided yet, so two operators
 * approving at once, or an approval racing a decline, cannot both win.
 */
import type { Knex } from 'knex';
import type { GuardCounts, GuardTrip } from '../../domain/guards.js';

export interface Hold {
  id: number;
  originalName: string;
  sha256: string;
  feed: string;
  heldSince: string;
  filePath: string;
  reportJsonPath: string | null;
  reportXlsxPath: string | null;
  /** The guards that held it. */
  guards: GuardTrip[];
  decision: 'approved' | 'declined' | null;
  decidedBy: string | null;
  decidedAt: string | null;
  note: string | null;
  /** The import that applied it (or held it again). */
  resolvedBy: number | null;
  /** When this hold is a file held again on its approval: the hold that was approved. */
  heldAgainFrom: number | null;
}

interface HoldRow {
  id: number | string;
  original_name: string;
  sha256: string;
  feed: string | null;
  finished_at: string | null;
  started_at: string;
  file_path: string | null;
  report_json_path: string | null;
  report_xlsx_path: string | null;
  guards: string | null;
  decision: 'approved' | 'declined' | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_note: string | null;
  resolved_by: number | string | null;
  hold_id: number | string | null;
}

function toHold(row: HoldRow): Hold {
  const guards = row.guards ? (JSON.parse(row.guards) as { tripped?: GuardTrip[] }).tripped : undefined;
  return {
    id: Number(row.id),
    originalName: row.original_name,
    sha256: row.sha256,
    feed: row.feed ?? 'inbox',
    heldSince: row.finished_at ?? row.started_at,
    filePath: row.file_path ?? '',
    reportJsonPath: row.report_json_path,
    reportXlsxPath: row.report_xlsx_path,
    guards: guards ?? [],
    decision: row.decision,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    note: row.decision_note,
    resolvedBy: row.resolved_by === null ? null : Number(row.resolved_by),
    heldAgainFrom: row.hold_id === null || row.hold_id === undefined ? null : Number(row.hold_id),
  };
}

/**
 * Holds of the daemon (a command line's held import leaves its file where it was, and a held
 * revert has no file: `--allow` applies them, not `holds approve`).
 */
const daemonHolds = (knex: Knex) => knex('imports').where('status', 'held').whereNotIn('source', ['cli', 'revert']);

/** Holds not yet applied or declined: waiting for a decision, or approved and waiting to be applied. Oldest first. */
export async function listOpenHolds(knex: Knex): Promise<Hold[]> {
  const rows = (await daemonHolds(knex)
    .where((q) => q.whereNull('decision').orWhere((a) => a.where('decision', 'approved').whereNull('resolved_by')))
    .orderBy('id')) as HoldRow[];
  return rows.map(toHold);
}

/** How many holds wait for a decision: one COUNT on the register, cheap enough for every file and poll. */
export async function countWaitingHolds(knex: Knex): Promise<number> {
  const [row] = (await daemonHolds(knex).whereNull('decision').count({ n: '*' })) as Array<{ n: number | string }>;
  return Number(row?.n ?? 0);
}

/** Approved holds no import has applied yet: what the daemon picks up. */
export async function listApprovedHolds(knex: Knex): Promise<Hold[]> {
  const rows = (await daemonHolds(knex)
    .where('decision', 'approved')
    .whereNull('resolved_by')
    .orderBy('id')) as HoldRow[];
  return rows.map(toHold);
}

export async function getHold(knex: Knex, id: number): Promise<Hold | undefined> {
  const row = (await daemonHolds(knex).where('id', id).first()) as HoldRow | undefined;
  return row ? toHold(row) : undefined;
}

/**
 * The guards' counts an approval of `hold` lets through: its own tripped guards, and those of the
 * approved holds it was held again from. A file held again lists only the guards that counted more
 * than approved (apply/plan.ts), not those still within their approval: without the earlier
 * approvals' counts, approving the new hold would hold the file again on a guard already approved,
 * and the two guards would take turns for ever.
 */
export async function approvedCounts(knex: Knex, hold: Hold): Promise<Partial<GuardCounts>> {
  const counts: Partial<GuardCounts> = {};
  for (let current: Hold | undefined = hold; current;) {
    for (const trip of current.guards) counts[trip.guard] = Math.max(counts[trip.guard] ?? 0, trip.planned);
    const from: number | null = current.heldAgainFrom;
    // Ids only decrease along the chain, so it ends.
    const previous: Hold | undefined = from !== null && from < current.id ? await getHold(knex, from) : undefined;
    current = previous?.decision === 'approved' ? previous : undefined;
  }
  return counts;
}

/** Records the decision; false when someone decided first. */
export async function decide(
  knex: Knex,
  id: number,
  decision: { decision: 'approved' | 'declined'; by: string; at: string; note: string | null },
): Promise<boolean> {
  const changed = await daemonHolds(knex)
    .where('id', id)
    .whereNull('decision')
    .update({
      decision: decision.decision,
      decided_by: decision.by.slice(0, 255),
      decided_at: decision.at,
      decision_note: decision.note,
    });
  return Number(changed) === 1;
}

/** The hold was applied (or held again) by `importId`; for a decline, where its file went. */
export async function resolve(knex: Knex, id: number, resolution: { by?: number; filePath?: string }): Promise<void> {
  const update: Record<string, unknown> = {};
  if (resolution.by !== undefined) update.resolved_by = resolution.by;
  if (resolution.filePath !== undefined) update.file_path = resolution.filePath;
  await knex('imports').where('id', id).update(update);
}

/**
 * An import of the same feed that applied a file after this hold: approving the older file would
 * undo it (SPEC §9). Undefined when none did.
 */
export async function newerAppliedImport(
  knex: Knex,
  hold: Hold,
  /** Only imports that finished after this time (the approval's): those the approver did not see. */
  finishedAfter?: string,
): Promise<{ id: number; originalName: string; finishedAt: string | null } | undefined> {
  const query = knex('imports');
  if (finishedAfter !== undefined) query.where('finished_at', '>', finishedAfter);
  const row = (await query
    .where('id', '>', hold.id)
    .where('feed', hold.feed)
    .whereIn('status', ['imported', 'imported_with_errors'])
    .where('dry_run', false)
    // The import that applied this very hold is not newer than it.
    .where((q) => q.whereNull('hold_id').orWhereNot('hold_id', hold.id))
    .orderBy('id')
    .first('id', 'original_name', 'finished_at')) as
    { id: number | string; original_name: string; finished_at: string | null } | undefined;
  return row ? { id: Number(row.id), originalName: row.original_name, finishedAt: row.finished_at } : undefined;
}
