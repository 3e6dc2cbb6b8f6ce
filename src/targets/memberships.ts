/**
 * Phase two of a delivery (deliver.ts): the users' new and old roles and groups, gathered by group
 * so that one PATCH adds or removes many of a group's members at once (a first load of 100,000
 * users in 5 roles and groups is a few hundred requests here, not 100,000). What each PATCH did is recorded
 * per user, so a round that stops half-way saves exactly what reached the target.
 *
 * A PATCH the target refuses is split in halves until the member it refuses is alone: only that
 * user is parked, not the hundred others of the request.
 */
import type { Knex } from 'knex';
import pLimit from 'p-limit';
import { membershipId, type Membership } from '../db/repositories/directory-users.js';
import { saveTargetGroup, type TargetGroup } from '../db/repositories/targets.js';
import { chunk } from '../db/time.js';
import { DeliveryFault } from './scim/fault.js';
import { createGroup, patchMembers } from './scim/groups-api.js';
import type { TargetRuntime } from './runtime.js';

/**
 * Members per PATCH: few requests for a first load. A provider whose limit is lower refuses the
 * request, and the halving below finds the size it takes.
 */
const MEMBERS_PER_PATCH = 500;

export interface MembershipDelta {
  username: string;
  remoteId: string;
  /** `role:<key>` / `group:<key>` as the target holds them (as last delivered). */
  before: readonly string[];
  after: readonly Membership[];
}

/** Per user, the memberships a PATCH added or removed at the target. */
export type AppliedMemberships = Map<string, { added: Set<string>; removed: Set<string> }>;

export interface MembershipOutcome {
  fault?: DeliveryFault;
  /** Users with a change the target refused, with why. */
  refused: Map<string, DeliveryFault>;
  applied: AppliedMemberships;
}

interface Member {
  username: string;
  remoteId: string;
}

interface GroupChange {
  membership: Pick<Membership, 'kind' | 'key'> & { name?: string };
  add: Member[];
  remove: Member[];
}

export async function deliverMemberships(
  knex: Knex,
  runtime: TargetRuntime,
  deltas: readonly MembershipDelta[],
): Promise<MembershipOutcome> {
  const outcome: MembershipOutcome = { refused: new Map(), applied: new Map() };
  if (deltas.length === 0) return outcome;
  const changes = groupChanges(deltas);
  const known = await runtime.groups();
  const limit = pLimit(runtime.config.concurrency);
  await Promise.all(
    [...changes].map(([id, c]) =>
      limit(async () => {
        if (outcome.fault) return;
        try {
          await applyGroupChange(knex, runtime, known, id, c, outcome);
        } catch (error) {
          const fault =
            error instanceof DeliveryFault
              ? error
              : new DeliveryFault('transient', error instanceof Error ? error.message : String(error));
          if (fault.kind === 'transient') outcome.fault ??= fault;
          else for (const m of [...c.add, ...c.remove]) outcome.refused.set(m.username, fault);
        }
      }),
    ),
  );
  return outcome;
}

/** The deltas by group: whom each role or group gains and loses. */
function groupChanges(deltas: readonly MembershipDelta[]): Map<string, GroupChange> {
  const changes = new Map<string, GroupChange>();
  const change = (id: string, membership: GroupChange['membership']) => {
    let found = changes.get(id);
    if (!found) changes.set(id, (found = { membership, add: [], remove: [] }));
    return found;
  };
  for (const delta of deltas) {
    const member = { username: delta.username, remoteId: delta.remoteId };
    const before = new Set(delta.before);
    const after = new Set(delta.after.map(membershipId));
    for (const m of delta.after) if (!before.has(membershipId(m))) change(membershipId(m), m).add.push(member);
    for (const id of delta.before)
      if (!after.has(id)) {
        const [kind, ...key] = id.split(':');
        change(id, { kind: kind as Membership['kind'], key: key.join(':') }).remove.push(member);
      }
  }
  return changes;
}

/** Recorded when the group it concerns is gone: the member is not in it any more either way. */
class GroupGone extends Error {}

async function applyGroupChange(
  knex: Knex,
  runtime: TargetRuntime,
  known: Map<string, TargetGroup>,
  id: string,
  c: GroupChange,
  outcome: MembershipOutcome,
): Promise<void> {
  const record = (members: readonly Member[], how: 'added' | 'removed') => {
    for (const m of members) {
      let entry = outcome.applied.get(m.username);
      if (!entry) outcome.applied.set(m.username, (entry = { added: new Set(), removed: new Set() }));
      entry[how].add(id);
    }
  };
  const ensure = async () => {
    const existing = known.get(id);
    if (existing) return existing.remoteId;
    if (c.membership.name === undefined) return null; // never made there: nothing to remove
    const prefix = c.membership.kind === 'role' ? runtime.config.rolePrefix : '';
    const displayName = `${prefix}${c.membership.name}`;
    const remoteId = await createGroup(runtime.client, displayName, id);
    const group = { kind: c.membership.kind, key: c.membership.key, remoteId, displayName };
    await saveTargetGroup(knex, runtime.config.name, group);
    known.set(id, group);
    return remoteId;
  };
  /** One PATCH for `members`, halved on a refusal until the refused member is alone. */
  const send = async (groupId: string, members: Member[], how: 'added' | 'removed'): Promise<void> => {
    const ids = members.map((m) => m.remoteId);
    try {
      const present = await patchMembers(
        runtime.client,
        groupId,
        how === 'added' ? ids : [],
        how === 'removed' ? ids : [],
      );
      if (!present) throw new GroupGone();
      record(members, how);
    } catch (error) {
      if (!(error instanceof DeliveryFault) || error.kind !== 'refused') throw error;
      if (error.status === 409 && how === 'added') return record(members, how); // members already
      if (members.length === 1) return void outcome.refused.set(members[0]!.username, error);
      const half = Math.ceil(members.length / 2);
      await send(groupId, members.slice(0, half), how);
      await send(groupId, members.slice(half), how);
    }
  };
  const sendAll = async (groupId: string) => {
    for (const part of chunk(c.add, MEMBERS_PER_PATCH)) await send(groupId, part, 'added');
    for (const part of chunk(c.remove, MEMBERS_PER_PATCH)) await send(groupId, part, 'removed');
  };
  const groupId = await ensure();
  if (groupId === null) return record(c.remove, 'removed');
  try {
    await sendAll(groupId);
  } catch (error) {
    if (!(error instanceof GroupGone)) throw error;
    // Deleted at the target: made again with the members it should have (none to remove).
    known.delete(id);
    record(c.remove, 'removed');
    const again = await ensure();
    if (again === null) return;
    c.remove = [];
    try {
      await sendAll(again);
    } catch (retried) {
      if (retried instanceof GroupGone)
        throw new DeliveryFault('transient', `group ${id} vanished at the target twice in a row`);
      throw retried;
    }
  }
}

/** `before` with what was applied: the memberships the target now holds, in code-point order. */
export function appliedTo(
  before: readonly string[],
  applied: { added: Set<string>; removed: Set<string> } | undefined,
): string[] {
  if (!applied) return [...before];
  const now = new Set(before.filter((id) => !applied.removed.has(id)));
  for (const id of applied.added) now.add(id);
  return [...now].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
