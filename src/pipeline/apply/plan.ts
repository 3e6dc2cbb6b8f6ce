/**
 * Plan before write (SPEC §9): what a guarded import checks between its two passes.
 *
 * The first pass prepares every batch as an unguarded import would (validation, the users as
 * stored, passwords hashed), counts each row's change for the guards, and spools the batch
 * (plan-spool.ts). Nothing is written. Then the guards decide: held, or applied — and the second
 * pass applies the spooled batches, exactly the plan that was checked.
 *
 * Between the passes someone else may change a user the plan writes. Before each batch is
 * written, the users it creates or changes are read again and compared with what was planned
 * against; any difference ends the import with DIRECTORY_CHANGED_DURING_IMPORT, a transient fault
 * (the daemon plans the file again). Users the plan leaves unchanged are not read again: the
 * plan writes nothing for them, whatever they are now.
 */
import type { Knex } from 'knex';
import {
  type GuardCounts,
  type GuardLimits,
  type GuardName,
  type GuardTally,
  type GuardTrip,
  type PrivilegedKeys,
} from '../../domain/guards.js';
import type { RawRow } from '../../domain/columns.js';
import { diffUser, type StoredUser, type UserDiff } from '../../domain/merge.js';
import type { AppliedRow } from './change-set.js';
import type { PlannedBatch } from './plan-spool.js';
import { fail } from '../../errors.js';
import type { PreparedBatch } from './prepare.js';
import { loadStoredUsers } from './stored-users.js';
import type { PrepareContext } from './prepare.js';

/** What an import is checked against: the feed's limits and what the operator let through. */
export interface SafetySettings {
  limits: GuardLimits;
  privileged: PrivilegedKeys;
  /** `--allow`: guards applied despite their limits. */
  allow: ReadonlySet<GuardName>;
  /** An approved hold: the counts it was approved with. */
  approval?: { holdId: number; counts: Partial<GuardCounts> } | undefined;
}

/** The guards' verdict on a whole plan. */
export interface GuardDecision {
  /** True when the file must be held: a guard tripped that nothing let through. */
  held: boolean;
  /** Every guard that tripped: held, some of them hold it; applied, all were let through. */
  guards: GuardTrip[];
  /** The names of the guards let through (by --allow or by the approval). */
  allowed: GuardName[];
  counts: GuardCounts;
}

/**
 * Counts one prepared batch for the guards and makes what the plan spools of it. A batch that
 * creates and changes nothing is spooled as its report rows alone (the common case of a re-import:
 * its intents and stored users would be spooled, read back and thrown away). A batch that writes
 * is spooled whole, with the usernames it creates or changes (checked again before writing), and
 * without the raw cells of rows that cannot fail any more (only a row the diff fails needs them).
 */
export function planBatch(tally: GuardTally, batch: PreparedBatch): PlannedBatch {
  const changing: string[] = [];
  const diffs: UserDiff[] = [];
  for (const intent of batch.intents) {
    const stored = batch.stored.get(intent.username);
    const diff = diffUser(stored, intent);
    diffs.push(diff);
    if (diff.kind !== 'create' && diff.kind !== 'update') continue;
    tally.add(intent.username, stored, diff);
    changing.push(intent.username);
  }
  if (changing.length === 0) return { rows: unchangedRows(batch, diffs) };
  diffs.forEach((diff, i) => {
    const raw = batch.raws[i] as RawRow;
    if (diff.kind !== 'fail') batch.raws[i] = { row: raw.row, cells: [] };
  });
  return { batch, changing };
}

/** The report rows of a batch that writes nothing, in file order (what a sink would record for it). */
function unchangedRows(batch: PreparedBatch, diffs: readonly UserDiff[]): AppliedRow[] {
  return batch.order.map((index): AppliedRow => {
    if (index < 0) {
      const failed = batch.failed[-1 - index] as PreparedBatch['failed'][number];
      const { row, username, code, message, raw } = failed;
      return { row, username, status: 'failed', changes: [], code, message, raw };
    }
    const { row, username } = batch.intents[index] as PreparedBatch['intents'][number];
    const diff = diffs[index] as UserDiff;
    if (diff.kind === 'fail') {
      const raw = batch.raws[index];
      return {
        row,
        username,
        status: 'failed',
        changes: [],
        code: diff.code,
        message: diff.message,
        ...(raw ? { raw } : {}),
      };
    }
    return { row, username, status: 'unchanged', changes: [] };
  });
}

/** Counts one prepared batch for the guards (a dry run's single pass). */
export function tallyBatch(tally: GuardTally, batch: PreparedBatch): void {
  for (const intent of batch.intents) {
    const stored = batch.stored.get(intent.username);
    const diff = diffUser(stored, intent);
    if (diff.kind === 'create' || diff.kind === 'update') tally.add(intent.username, stored, diff);
  }
}

export function decide(tally: GuardTally, safety: SafetySettings): GuardDecision {
  const trips = tally.tripped(safety.limits);
  const approved = (trip: GuardTrip) => {
    const count = safety.approval?.counts[trip.guard];
    return count !== undefined && trip.planned <= count;
  };
  const letThrough = trips.filter((trip) => safety.allow.has(trip.guard) || approved(trip));
  const holding = trips.filter((trip) => !letThrough.includes(trip));
  const counts = { ...tally.counts };
  // A held file reports every guard that tripped (SPEC §9), those let through too: an approval
  // then covers them all.
  return { held: holding.length > 0, guards: trips, allowed: letThrough.map((t) => t.guard), counts };
}

/**
 * Reads the users a planned batch changes again and fails the import when any of them is no
 * longer as planned (see the module comment).
 */
export async function checkNoDrift(
  handle: Knex,
  planned: { batch: PreparedBatch; changing: readonly string[] },
  context: Pick<PrepareContext, 'dialect' | 'maxInParams' | 'membershipKeys' | 'onDatabase'>,
): Promise<void> {
  if (planned.changing.length === 0) return;
  const now = await context.onDatabase(() =>
    loadStoredUsers(handle, context.dialect, planned.changing, context.maxInParams, context.membershipKeys),
  );
  for (const username of planned.changing) {
    if (!sameUser(planned.batch.stored.get(username), now.get(username))) {
      throw fail('DIRECTORY_CHANGED_DURING_IMPORT', {
        message: `User "${username}" was changed by someone else after this import planned its changes; nothing more of the file is written. The file is planned again against the directory as it is now.`,
      });
    }
  }
}

function sameUser(a: StoredUser | undefined, b: StoredUser | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.id === b.id &&
    a.name === b.name &&
    a.email === b.email &&
    a.phone === b.phone &&
    a.departmentKey === b.departmentKey &&
    a.active === b.active &&
    a.ignoreMfa === b.ignoreMfa &&
    a.passwordHash === b.passwordHash &&
    sameKeys(a.roleKeys, b.roleKeys) &&
    sameKeys(a.groupKeys, b.groupKeys)
  );
}

const sameKeys = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((key) => b.includes(key));
