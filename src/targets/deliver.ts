/**
 * Delivers users to one target (SPEC §12): what the directory holds now, compared with what was
 * last delivered (target_users.snapshot), becomes the requests — nothing when they agree. Sending
 * the current state rather than replaying each event keeps a user's changes in order by
 * construction (the target never sees an older state after a newer one) and makes every retry
 * and every redelivery after a crash idempotent.
 *
 * Two phases per call: the users (one request each, `concurrency` at a time, or SCIM Bulk), then
 * their roles and groups, one PATCH per group for all of its new and old members. A transient
 * fault stops new requests and is returned: what completed is saved, the rest is tried again.
 * A refusal parks only the user it concerns.
 */
import type { Knex } from 'knex';
import pLimit from 'p-limit';
import { directoryUsers, type DirectoryUser } from '../db/repositories/directory-users.js';
import { saveTargetUsers, targetUsers, type PendingUser, type TargetUser } from '../db/repositories/targets.js';
import { bulkRequests, sendBulk } from './scim/bulk.js';
import { DeliveryFault } from './scim/fault.js';
import { parseSnapshot, sameAttributes, snapshotOf, type UserSnapshot } from './scim/resource.js';
import { writeUser, type UserWrite } from './scim/users-api.js';
import { appliedTo, deliverMemberships, type AppliedMemberships, type MembershipDelta } from './memberships.js';
import type { TargetRuntime } from './runtime.js';

export interface DeliveryResult {
  delivered: number;
  unchanged: number;
  parked: number;
  /** The transient fault that stopped the delivery, when one did: the rest waits for a retry. */
  fault?: DeliveryFault;
  /** Why the target refused the first user it parked, when it parked one. */
  refusal?: string;
}

interface Work {
  pending: PendingUser;
  user: DirectoryUser;
  stored: TargetUser | undefined;
  before: UserSnapshot | null;
  after: UserSnapshot;
  remoteId: string | null;
  /** The user's attributes reached the target (or needed nothing). */
  written: boolean;
  /** Its account there was made again (404) or linked (409): its groups there are not known. */
  fresh: boolean;
  fault?: DeliveryFault;
}

export async function deliverUsers(
  knex: Knex,
  runtime: TargetRuntime,
  pending: readonly PendingUser[],
  now: () => string,
  /** Waited for before the outcome is written (the dispatcher's SQLite gate). */
  beforeWrite: () => Promise<void> = async () => undefined,
): Promise<DeliveryResult> {
  const names = pending.map((p) => p.username);
  const [directory, stored] = await Promise.all([
    directoryUsers(knex, names),
    targetUsers(knex, runtime.config.name, names),
  ]);
  const work: Work[] = [];
  for (const p of pending) {
    const user = directory.get(p.username);
    if (!user) continue; // not in the directory (never created): nothing to send
    const row = stored.get(p.username);
    const before = row?.remoteId ? parseSnapshot(row.snapshot) : null;
    const after = snapshotOf(user);
    const remoteId = row?.remoteId ?? null;
    const written = remoteId !== null && before !== null && sameAttributes(before, after);
    work.push({ pending: p, user, stored: row, before, after, remoteId, written, fresh: false });
  }
  let halted: DeliveryFault | undefined;
  const toWrite = work.filter((w) => !w.written);
  if (toWrite.length > 0) halted = await writeUsers(runtime, toWrite);
  let applied: AppliedMemberships = new Map();
  if (halted === undefined && runtime.config.groups) {
    const deltas: MembershipDelta[] = work
      .filter((w) => w.written && w.remoteId !== null && !sameList(heldGroups(w), w.after.memberOf))
      .map((w) => ({
        username: w.user.username,
        remoteId: w.remoteId as string,
        before: heldGroups(w),
        after: w.user.memberships,
      }));
    const outcome = await deliverMemberships(knex, runtime, deltas);
    halted = outcome.fault;
    applied = outcome.applied;
    for (const w of work) {
      const fault = outcome.refused.get(w.user.username);
      if (fault) w.fault = fault;
    }
  }
  await beforeWrite();
  return settle(knex, runtime, work, applied, halted, now());
}

/** The roles and groups the target holds for the user: none when its account there is new to usersync. */
const heldGroups = (w: Work): readonly string[] => (w.fresh ? [] : (w.before?.memberOf ?? []));

/** Phase one: the users' attributes. Resolves to the transient fault that stopped it, if one did. */
async function writeUsers(runtime: TargetRuntime, work: Work[]): Promise<DeliveryFault | undefined> {
  let halted: DeliveryFault | undefined;
  const limit = pLimit(runtime.config.concurrency);
  const single = async (w: Work) => {
    if (halted) return;
    try {
      const written = await writeUser(runtime.client, toWrite(w));
      w.remoteId = written.id;
      w.fresh = written.fresh;
      w.written = true;
    } catch (error) {
      const fault = asFault(error);
      if (fault.kind === 'transient') halted ??= fault;
      else w.fault = fault;
    }
  };
  let bulk;
  try {
    bulk = await runtime.bulkLimits();
  } catch (error) {
    return asFault(error); // the target (or its token endpoint) is down: the round's fault, told as such
  }
  if (bulk === null) {
    await Promise.all(work.map((w) => limit(() => single(w))));
    return halted;
  }
  const requests = bulkRequests(work.map(toWrite), bulk);
  const byWrite = new Map<UserWrite, Work>();
  let at = 0;
  for (const request of requests) for (const write of request.writes) byWrite.set(write, work[at++]!);
  await Promise.all(
    requests.map((request) =>
      limit(async () => {
        if (halted) return;
        try {
          const outcomes = await sendBulk(runtime.client, request);
          for (const [i, outcome] of outcomes.entries()) {
            const w = byWrite.get(request.writes[i]!)!;
            if ('id' in outcome) {
              w.remoteId = outcome.id;
              w.written = true;
            } else if ('single' in outcome) await single(w);
            else if (outcome.fault.kind === 'transient') halted ??= outcome.fault;
            else w.fault = outcome.fault;
          }
        } catch (error) {
          const fault = asFault(error);
          if (fault.kind === 'transient') halted ??= fault;
          else for (const write of request.writes) byWrite.get(write)!.fault = fault;
        }
      }),
    ),
  );
  return halted;
}

const toWrite = (w: Work): UserWrite => ({
  username: w.user.username,
  remoteId: w.remoteId,
  before: w.before,
  after: w.after,
});

/**
 * Saves what happened to each user; nothing is written for a user that needed nothing. The
 * snapshot is what the target holds now: the attributes when they arrived, and the memberships as
 * each PATCH left them — so a round that stopped, or a user parked for one group, is compared
 * next time against the truth, and nothing that reached the target is sent again or forgotten.
 */
async function settle(
  knex: Knex,
  runtime: TargetRuntime,
  work: Work[],
  applied: AppliedMemberships,
  halted: DeliveryFault | undefined,
  at: string,
): Promise<DeliveryResult> {
  const result: DeliveryResult = { delivered: 0, unchanged: 0, parked: 0, ...(halted ? { fault: halted } : {}) };
  const rows: TargetUser[] = [];
  for (const w of work) {
    const row = (fields: Partial<TargetUser>): TargetUser => ({
      username: w.user.username,
      remoteId: w.remoteId,
      snapshot: w.stored?.snapshot ?? null,
      status: w.stored?.status ?? 'synced',
      seq: w.pending.seq,
      error: w.stored?.error ?? null,
      attempts: w.stored?.attempts ?? 0,
      updatedAt: at,
      ...fields,
    });
    if (!w.written) {
      if (w.fault) {
        result.parked++;
        result.refusal ??= w.fault.message;
        rows.push(row({ status: 'parked', error: w.fault.message, attempts: (w.stored?.attempts ?? 0) + 1 }));
      } else if (w.remoteId !== (w.stored?.remoteId ?? null)) rows.push(row({}));
      continue;
    }
    const memberOf = appliedTo(heldGroups(w), applied.get(w.user.username));
    const snapshot = JSON.stringify({ ...w.after, memberOf });
    if (w.fault) {
      result.parked++;
      result.refusal ??= w.fault.message;
      rows.push(row({ snapshot, status: 'parked', error: w.fault.message, attempts: (w.stored?.attempts ?? 0) + 1 }));
      continue;
    }
    const complete = !runtime.config.groups || sameList(memberOf, w.after.memberOf);
    if (!complete) {
      // Stopped before its memberships were done: what arrived is saved, the rest is sent next time.
      rows.push(row({ snapshot }));
      continue;
    }
    const nothingSent =
      w.before !== null && !w.fresh && sameAttributes(w.before, w.after) && sameList(w.before.memberOf, memberOf);
    if (nothingSent) result.unchanged++;
    else result.delivered++;
    if (nothingSent && w.stored?.status === 'synced' && w.stored.snapshot === snapshot) continue;
    rows.push(row({ snapshot, status: 'synced', error: null, attempts: 0 }));
  }
  await saveTargetUsers(knex, runtime.config.name, rows);
  return result;
}

export function asFault(error: unknown): DeliveryFault {
  if (error instanceof DeliveryFault) return error;
  return new DeliveryFault('transient', error instanceof Error ? error.message : String(error));
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
