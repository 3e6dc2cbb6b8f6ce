/**
 * Phase two of a delivery (deliver.ts): the users' new and old roles and groups, gathered by group
 * so that one PATCH adds or removes all of a group's members at once (a first load of 100,000
 * users in 20 groups is 20 requests here, not 100,000).
 */
import type { Knex } from 'knex';
import pLimit from 'p-limit';
import { membershipId, type Membership } from '../db/repositories/directory-users.js';
import { saveTargetGroup, type TargetGroup } from '../db/repositories/targets.js';
import { DeliveryFault } from './scim/fault.js';
import { createGroup, patchMembers } from './scim/groups-api.js';
import type { TargetRuntime } from './runtime.js';

export interface MembershipDelta {
  username: string;
  remoteId: string;
  /** `role:<key>` / `group:<key>` as last delivered. */
  before: readonly string[];
  after: readonly Membership[];
}

export interface MembershipOutcome {
  fault?: DeliveryFault;
  /** Users whose change a target refused, with why. */
  refused: Map<string, DeliveryFault>;
}

interface GroupChange {
  membership: Pick<Membership, 'kind' | 'key'> & { name?: string };
  add: string[];
  remove: string[];
  users: string[];
}

export async function deliverMemberships(
  knex: Knex,
  runtime: TargetRuntime,
  deltas: readonly MembershipDelta[],
): Promise<MembershipOutcome> {
  const outcome: MembershipOutcome = { refused: new Map() };
  if (deltas.length === 0) return outcome;
  const changes = new Map<string, GroupChange>();
  const change = (id: string, membership: GroupChange['membership']) => {
    let found = changes.get(id);
    if (!found) changes.set(id, (found = { membership, add: [], remove: [], users: [] }));
    return found;
  };
  for (const delta of deltas) {
    const before = new Set(delta.before);
    const after = new Set(delta.after.map(membershipId));
    for (const m of delta.after)
      if (!before.has(membershipId(m))) {
        const c = change(membershipId(m), m);
        c.add.push(delta.remoteId);
        c.users.push(delta.username);
      }
    for (const id of delta.before)
      if (!after.has(id)) {
        const [kind, ...key] = id.split(':');
        const c = change(id, { kind: kind as Membership['kind'], key: key.join(':') });
        c.remove.push(delta.remoteId);
        c.users.push(delta.username);
      }
  }
  const known = await runtime.groups();
  const limit = pLimit(runtime.config.concurrency);
  await Promise.all(
    [...changes].map(([id, c]) =>
      limit(async () => {
        if (outcome.fault) return;
        try {
          await applyGroupChange(knex, runtime, known, id, c);
        } catch (error) {
          const fault =
            error instanceof DeliveryFault
              ? error
              : new DeliveryFault('transient', error instanceof Error ? error.message : String(error));
          if (fault.kind === 'transient') outcome.fault ??= fault;
          else for (const username of c.users) outcome.refused.set(username, fault);
        }
      }),
    ),
  );
  return outcome;
}

async function applyGroupChange(
  knex: Knex,
  runtime: TargetRuntime,
  known: Map<string, TargetGroup>,
  id: string,
  c: GroupChange,
): Promise<void> {
  const ensure = async () => {
    const existing = known.get(id);
    if (existing) return existing.remoteId;
    if (c.membership.name === undefined) return null; // never created there: nothing to remove
    const prefix = c.membership.kind === 'role' ? runtime.config.rolePrefix : '';
    const displayName = `${prefix}${c.membership.name}`;
    const remoteId = await createGroup(runtime.client, displayName, id);
    const group = { kind: c.membership.kind, key: c.membership.key, remoteId, displayName };
    await saveTargetGroup(knex, runtime.config.name, group);
    known.set(id, group);
    return remoteId;
  };
  const groupId = await ensure();
  if (groupId === null) return;
  if (await patchMembers(runtime.client, groupId, c.add, c.remove)) return;
  // Deleted at the target: made again, with the members it should have gained (none to remove).
  known.delete(id);
  const again = await ensure();
  if (again !== null && !(await patchMembers(runtime.client, again, c.add, [])))
    throw new DeliveryFault('transient', `group ${id} vanished at the target twice in a row`);
}
