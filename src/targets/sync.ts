/**
 * `usersync targets sync` (SPEC §12): reads what the target holds and corrects every difference
 * from the directory — users it lacks are created, users whose attributes or roles and groups
 * drifted are set back, and active users the directory does not have are deactivated there (never
 * deleted). The plan is made first, from one full read of the target; a plan that would deactivate
 * more accounts than safety.limits.deactivate is held like an import (nothing sent, exit 4) unless
 * `--allow deactivate`. The corrections go through the same delivery as the daemon's (deliver.ts).
 */
import type { Knex } from 'knex';
import pLimit from 'p-limit';
import { listCatalog } from '../db/repositories/catalog.js';
import { directoryUsers } from '../db/repositories/directory-users.js';
import {
  claimLease,
  pauseDelivery,
  releaseLease,
  saveTargetGroup,
  saveTargetUsers,
  type TargetUser,
} from '../db/repositories/targets.js';
import { patchBody, sameAttributes, snapshotOf, type UserSnapshot } from './scim/resource.js';
import { refused } from './scim/client.js';
import { readRemoteGroups, readRemoteUsers, type RemoteGroup, type RemoteUser } from './scim/read-target.js';
import { deliverUsers, asFault, type DeliveryResult } from './deliver.js';
import { DeliveryFault } from './scim/fault.js';
import type { TargetRuntime } from './runtime.js';
import { WINDOW } from './dispatcher.js';

export interface SyncPlan {
  target: string;
  /** Users the target holds, and the directory. */
  atTarget: number;
  inDirectory: number;
  create: string[];
  /** Users whose attributes differ, with the fields. */
  update: Array<{ username: string; fields: string[] }>;
  /** Users whose roles or groups differ. */
  memberships: string[];
  /** Accounts that would go from active to inactive at the target: extra ones, and those inactive here. */
  deactivate: string[];
  /** Active accounts at the target that the directory does not have (a part of `deactivate`). */
  extra: Array<{ userName: string; id: string }>;
  unchanged: number;
}

export interface SyncOutcome extends DeliveryResult {
  deactivatedExtra: number;
}

const FIELDS: ReadonlyArray<keyof UserSnapshot> = ['name', 'email', 'phone', 'active'];

/**
 * Reads the target and the directory. Saves nothing but, unless `dryRun`, the links to groups the
 * target has under a role's or group's name.
 */
export async function planSync(
  knex: Knex,
  runtime: TargetRuntime,
  dryRun: boolean,
): Promise<{ plan: SyncPlan; rows: TargetUser[] }> {
  const name = runtime.config.name;
  const remote = await readRemoteUsers(runtime.client);
  const memberOf = runtime.config.groups
    ? await remoteMemberships(knex, runtime, await readRemoteGroups(runtime.client), dryRun)
    : new Map();
  const plan: SyncPlan = {
    target: name,
    atTarget: remote.size,
    inDirectory: 0,
    create: [],
    update: [],
    memberships: [],
    deactivate: [],
    extra: [],
    unchanged: 0,
  };
  const rows: TargetUser[] = [];
  const now = new Date().toISOString();
  /** The target's ids the directory's users have: never counted as extra, whatever their userName. */
  const seen = new Set<string>();
  for await (const page of usernamePages(knex)) {
    const directory = await directoryUsers(knex, page);
    for (const user of directory.values()) {
      plan.inDirectory++;
      const there: RemoteUser | undefined = remote.get(user.username.toLowerCase());
      const wanted = snapshotOf(user);
      const row = { username: user.username, seq: null, error: null, attempts: 0, updatedAt: now };
      if (!there) {
        plan.create.push(user.username);
        rows.push({ ...row, remoteId: null, snapshot: null, status: 'retry' });
        continue;
      }
      seen.add(there.id);
      const held: UserSnapshot = { ...there.snapshot, memberOf: memberOf.get(there.id) ?? [] };
      const fields = FIELDS.filter((f) => held[f] !== wanted[f]);
      const groupsDiffer = runtime.config.groups && held.memberOf.join('\n') !== wanted.memberOf.join('\n');
      if (fields.length > 0) plan.update.push({ username: user.username, fields });
      if (groupsDiffer) plan.memberships.push(user.username);
      if (held.active && !wanted.active) plan.deactivate.push(user.username);
      const same = sameAttributes(held, wanted) && !groupsDiffer;
      if (same) plan.unchanged++;
      // The target's values become the last delivered: the delivery then sends exactly the difference.
      rows.push({
        ...row,
        remoteId: there.id,
        snapshot: JSON.stringify(same ? wanted : held),
        status: same ? 'synced' : 'retry',
      });
    }
  }
  for (const there of remote.values())
    if (!seen.has(there.id) && there.snapshot.active) {
      plan.extra.push({ userName: there.userName, id: there.id });
      plan.deactivate.push(there.userName);
    }
  return { plan, rows };
}

/** Applies a plan: saves what was found, delivers the differences, deactivates the extra accounts. */
export async function applySync(
  knex: Knex,
  runtime: TargetRuntime,
  planned: { plan: SyncPlan; rows: TargetUser[] },
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<SyncOutcome> {
  const name = runtime.config.name;
  await saveTargetUsers(knex, name, planned.rows);
  const due = planned.rows.filter((r) => r.status === 'retry').map((r) => ({ username: r.username, seq: 0 }));
  const outcome: SyncOutcome = { delivered: 0, unchanged: 0, parked: 0, deactivatedExtra: 0 };
  for (let i = 0; i < due.length; i += WINDOW) {
    const result = await deliverUsers(knex, runtime, due.slice(i, i + WINDOW), () => new Date().toISOString());
    outcome.delivered += result.delivered;
    outcome.unchanged += result.unchanged;
    outcome.parked += result.parked;
    onProgress(Math.min(i + WINDOW, due.length), due.length);
    if (result.fault) return { ...outcome, fault: result.fault };
  }
  const limit = pLimit(runtime.config.concurrency);
  const deactivate = async (extra: { userName: string; id: string }) => {
    if (outcome.fault) return;
    const path = `/Users/${encodeURIComponent(extra.id)}`;
    try {
      const response = await runtime.client.request(
        'PATCH',
        path,
        patchBody([{ op: 'replace', path: 'active', value: false }]),
      );
      if (response.status === 404) return; // gone meanwhile: nothing left to deactivate
      if (response.status >= 300) throw refused('PATCH', path, response);
      outcome.deactivatedExtra++;
    } catch (error) {
      const fault = asFault(error);
      if (fault.kind === 'transient') outcome.fault ??= fault;
      else outcome.parked++;
    }
  };
  await Promise.all(planned.plan.extra.map((extra) => limit(() => deactivate(extra))));
  return outcome;
}

/**
 * Each remote user's roles and groups as `role:<key>` / `group:<key>`, from the groups the
 * target holds: those usersync made (target_groups), and those it did not but that carry a
 * role's or group's name (linked now, so they are not made twice). Other groups are the
 * product's own and are left alone.
 */
async function remoteMemberships(
  knex: Knex,
  runtime: TargetRuntime,
  groups: RemoteGroup[],
  dryRun: boolean,
): Promise<Map<string, string[]>> {
  const known = await runtime.groups();
  const byRemoteId = new Map([...known].map(([id, g]) => [g.remoteId, id]));
  const byName = new Map<string, { kind: 'role' | 'group'; key: string; name: string }>();
  for (const entry of await listCatalog(knex, 'groups'))
    byName.set(entry.name, { kind: 'group', key: entry.key, name: entry.name });
  for (const entry of await listCatalog(knex, 'roles'))
    byName.set(`${runtime.config.rolePrefix}${entry.name}`, { kind: 'role', key: entry.key, name: entry.name });
  const memberOf = new Map<string, string[]>();
  for (const group of groups) {
    let id =
      byRemoteId.get(group.id) ??
      (group.externalId && /^(role|group):/.test(group.externalId) ? group.externalId : undefined);
    const named = byName.get(group.displayName);
    if (id === undefined && named) id = `${named.kind}:${named.key}`;
    if (id === undefined) continue;
    if (!byRemoteId.has(group.id)) {
      const [kind, ...key] = id.split(':');
      const linked = {
        kind: kind as 'role' | 'group',
        key: key.join(':'),
        remoteId: group.id,
        displayName: group.displayName,
      };
      if (!dryRun) await saveTargetGroup(knex, runtime.config.name, linked);
      known.set(id, linked);
    }
    for (const member of group.members) {
      const list = memberOf.get(member);
      if (list) list.push(id);
      else memberOf.set(member, [id]);
    }
  }
  for (const list of memberOf.values()) list.sort();
  return memberOf;
}

/** Every username in the directory, 1000 at a time, in order. */
async function* usernamePages(knex: Knex): AsyncGenerator<string[]> {
  let after: string | null = null;
  for (;;) {
    const query = knex('users').orderBy('username').limit(1000).select('username');
    if (after !== null) query.where('username', '>', after);
    const page = ((await query) as Array<{ username: string }>).map((r) => r.username);
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]!;
  }
}

/** How long a sync waits for the daemon to finish the round it is delivering. */
const HANDOVER_MS = 5 * 60_000;
const SYNC_LEASE_MS = 60_000;

/**
 * Runs `work` with the target to itself: the daemon is asked to stand aside (target_state's
 * pause), the sync waits until it has let go of its lease (at the end of its round) and takes it,
 * and both are renewed while `work` runs and given back after. So the sync's reading of the
 * target and its corrections never interleave with the daemon's deliveries.
 */
export async function withTargetToItself<T>(
  knex: Knex,
  target: string,
  owner: string,
  work: () => Promise<T>,
  onWait: () => void = () => undefined,
): Promise<T> {
  const until = () => new Date(Date.now() + SYNC_LEASE_MS).toISOString();
  await pauseDelivery(knex, target, owner, until());
  const renewal = setInterval(() => {
    void pauseDelivery(knex, target, owner, until())
      .then(() => claimLease(knex, target, owner, new Date().toISOString(), until()))
      .catch(() => undefined);
  }, SYNC_LEASE_MS / 3);
  try {
    const deadline = Date.now() + HANDOVER_MS;
    let told = false;
    while (!(await claimLease(knex, target, owner, new Date().toISOString(), until()))) {
      if (Date.now() > deadline)
        throw new DeliveryFault(
          'transient',
          `the daemon did not let go of ${target} within ${HANDOVER_MS / 60_000} min`,
        );
      if (!told) onWait();
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return await work();
  } finally {
    clearInterval(renewal);
    await releaseLease(knex, target, owner).catch(() => undefined);
    await pauseDelivery(knex, target, owner, null).catch(() => undefined);
  }
}
