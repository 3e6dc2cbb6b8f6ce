/**
 * Where provisioning keeps its state (migration 0008, SPEC §12): each target's cursor into the
 * audit chain and its lease, the target's id and last delivered snapshot of every user, and the
 * SCIM groups it has for roles and groups. The queue itself is the user events after the cursor.
 */
import type { Knex } from 'knex';
import { chunk } from '../time.js';

export type TargetUserStatus = 'synced' | 'parked' | 'retry';

export interface TargetState {
  target: string;
  cursorSeq: number;
  delivered: number;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  leaseOwner: string | null;
  leaseUntil: string | null;
  pausedBy: string | null;
  pausedUntil: string | null;
}

export interface TargetUser {
  username: string;
  remoteId: string | null;
  snapshot: string | null;
  status: TargetUserStatus;
  seq: number | null;
  error: string | null;
  attempts: number;
  updatedAt: string;
}

/** One user's pending change: its latest event after the cursor. */
export interface PendingUser {
  username: string;
  seq: number;
}

const toState = (row: Record<string, unknown>): TargetState => ({
  target: row.target as string,
  cursorSeq: Number(row.cursor_seq),
  delivered: Number(row.delivered),
  lastSuccessAt: (row.last_success_at as string | null) ?? null,
  lastError: (row.last_error as string | null) ?? null,
  lastErrorAt: (row.last_error_at as string | null) ?? null,
  leaseOwner: (row.lease_owner as string | null) ?? null,
  leaseUntil: (row.lease_until as string | null) ?? null,
  pausedBy: (row.paused_by as string | null) ?? null,
  pausedUntil: (row.paused_until as string | null) ?? null,
});

/** The target's state, its row created (cursor 0: the whole history is owed to a new target) when missing. */
export async function targetState(knex: Knex, target: string): Promise<TargetState> {
  await knex('target_state').insert({ target, cursor_seq: 0, delivered: 0 }).onConflict('target').ignore();
  return toState((await knex('target_state').where({ target }).first()) as Record<string, unknown>);
}

/** The target's state as stored; a target never delivered to reads as cursor 0 (nothing is written). */
export async function peekTargetState(knex: Knex, target: string): Promise<TargetState> {
  const row = (await knex('target_state').where({ target }).first()) as Record<string, unknown> | undefined;
  return toState(row ?? { target, cursor_seq: 0, delivered: 0 });
}

/**
 * Takes or renews the right to deliver to `target` until `until`; false while another process
 * holds it. `takeFrom`: an owner known to be gone, whose lease is taken before it lapses.
 */
export async function claimLease(
  knex: Knex,
  target: string,
  owner: string,
  now: string,
  until: string,
  takeFrom?: string,
): Promise<boolean> {
  await targetState(knex, target);
  const changed = await knex('target_state')
    .where({ target })
    .andWhere((q) => {
      void q.whereNull('lease_owner').orWhere('lease_owner', owner).orWhere('lease_until', '<', now);
      if (takeFrom !== undefined) void q.orWhere('lease_owner', takeFrom);
    })
    .update({ lease_owner: owner, lease_until: until });
  return Number(changed) === 1;
}

export async function releaseLease(knex: Knex, target: string, owner: string): Promise<void> {
  await knex('target_state').where({ target, lease_owner: owner }).update({ lease_owner: null, lease_until: null });
}

/** Asks the deliverer to stand aside until `until` (renewed while `by` works), or ends the pause (`until` null). */
export async function pauseDelivery(knex: Knex, target: string, by: string, until: string | null): Promise<void> {
  await targetState(knex, target);
  const query = knex('target_state').where({ target });
  if (until === null) await query.where({ paused_by: by }).update({ paused_by: null, paused_until: null });
  else await query.update({ paused_by: by, paused_until: until });
}

/**
 * The users with events after `afterSeq`, each once with its latest seq, in the order of their
 * first event, looking at most `limit` events ahead; `lastSeq` is the last event looked at (of any
 * kind: an import's own events are passed over).
 */
export async function pendingUsers(
  knex: Knex,
  afterSeq: number,
  limit: number,
  /** Read past a gap in `seq` (see below) instead of stopping before it. */
  passGap = false,
): Promise<{ users: PendingUser[]; lastSeq: number | null; gapAfter: number | null }> {
  // Every event, not only users': the cursor must pass the import and catalogue events too.
  const rows = (await knex('audit_events')
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .select('seq', 'username')) as Array<{ seq: number | string; username: string | null }>;
  const users = new Map<string, PendingUser>();
  let lastSeq: number | null = null;
  let gapAfter: number | null = null;
  for (const row of rows) {
    const seq = Number(row.seq);
    // seq has no gaps (it is taken under the chain's lock and moved only at commit), so a gap is a
    // transaction not visible yet: stop before it rather than pass a change that commits later.
    if (seq !== (lastSeq ?? afterSeq) + 1 && !passGap) {
      gapAfter = lastSeq ?? afterSeq;
      break;
    }
    lastSeq = seq;
    if (row.username === null) continue;
    const known = users.get(row.username);
    if (known) known.seq = seq;
    else users.set(row.username, { username: row.username, seq });
  }
  return { users: [...users.values()], lastSeq, gapAfter };
}

/** Users an operator asked to be delivered again (`targets retry`), oldest first. */
export async function usersToRetry(knex: Knex, target: string, limit: number): Promise<PendingUser[]> {
  const rows = (await knex('target_users')
    .where({ target, status: 'retry' })
    .orderBy('updated_at')
    .limit(limit)
    .select('username', 'seq')) as Array<{ username: string; seq: number | string | null }>;
  return rows.map((r) => ({ username: r.username, seq: r.seq === null ? 0 : Number(r.seq) }));
}

/** Moves the cursor (and counts) for the lease's `owner`; false when it no longer holds the lease. */
export async function moveCursor(
  knex: Knex,
  target: string,
  owner: string,
  change: { cursorSeq?: number; delivered: number; at: string },
): Promise<boolean> {
  const moved = await knex('target_state')
    .where({ target, lease_owner: owner })
    .update({
      ...(change.cursorSeq === undefined ? {} : { cursor_seq: change.cursorSeq }),
      delivered: knex.raw('?? + ?', ['delivered', change.delivered]),
      last_success_at: change.at,
      last_error: null,
    });
  return Number(moved) === 1;
}

export async function recordTargetError(knex: Knex, target: string, error: string, at: string): Promise<void> {
  await knex('target_state')
    .where({ target })
    .update({ last_error: error.slice(0, 2000), last_error_at: at });
}

export async function targetUsers(
  knex: Knex,
  target: string,
  usernames: readonly string[],
): Promise<Map<string, TargetUser>> {
  const found = new Map<string, TargetUser>();
  for (const part of chunk(usernames, 500)) {
    const rows = (await knex('target_users').where({ target }).whereIn('username', part)) as Array<
      Record<string, unknown>
    >;
    for (const row of rows) found.set(row.username as string, toTargetUser(row));
  }
  return found;
}

const toTargetUser = (row: Record<string, unknown>): TargetUser => ({
  username: row.username as string,
  remoteId: (row.remote_id as string | null) ?? null,
  snapshot: (row.snapshot as string | null) ?? null,
  status: row.status as TargetUserStatus,
  seq: row.seq === null || row.seq === undefined ? null : Number(row.seq),
  error: (row.error as string | null) ?? null,
  attempts: Number(row.attempts ?? 0),
  updatedAt: row.updated_at as string,
});

/** Writes the outcome of deliveries (or what a sync found), one upsert per 200 users. */
export async function saveTargetUsers(knex: Knex, target: string, users: readonly TargetUser[]): Promise<void> {
  for (const part of chunk(users, 200)) {
    await knex('target_users')
      .insert(
        part.map((u) => ({
          target,
          username: u.username,
          remote_id: u.remoteId,
          snapshot: u.snapshot,
          status: u.status,
          seq: u.seq,
          error: u.error === null ? null : u.error.slice(0, 2000),
          attempts: u.attempts,
          updated_at: u.updatedAt,
        })),
      )
      .onConflict(['target', 'username'])
      .merge(['remote_id', 'snapshot', 'status', 'seq', 'error', 'attempts', 'updated_at']);
  }
}

/** Parked users go back in the queue; resolves to how many. `username` limits it to one. */
export async function requeueParked(knex: Knex, target: string, now: string, username?: string): Promise<number> {
  const query = knex('target_users').where({ target, status: 'parked' });
  if (username !== undefined) query.where({ username });
  return Number(await query.update({ status: 'retry', updated_at: now }));
}

export interface QueueCounts {
  /** User events after the cursor, plus users waiting for a retry. */
  queued: number;
  parked: number;
  /** The oldest queued event's time, null when none. */
  oldestQueuedAt: string | null;
}

export async function queueCounts(knex: Knex, target: string, cursorSeq: number): Promise<QueueCounts> {
  const events = (await knex('audit_events')
    .where('seq', '>', cursorSeq)
    .whereNotNull('username')
    .count({ n: '*' })
    .min({ oldest: 'at' })
    .first()) as { n: number | string; oldest: string | null } | undefined;
  const statuses = (await knex('target_users')
    .where({ target })
    .whereIn('status', ['parked', 'retry'])
    .groupBy('status')
    .select('status')
    .count({ n: '*' })) as Array<{ status: string; n: number | string }>;
  const count = (status: string) => Number(statuses.find((s) => s.status === status)?.n ?? 0);
  return {
    queued: Number(events?.n ?? 0) + count('retry'),
    parked: count('parked'),
    oldestQueuedAt: events?.oldest ?? null,
  };
}

export async function parkedUsers(knex: Knex, target: string, limit: number): Promise<TargetUser[]> {
  const rows = (await knex('target_users')
    .where({ target, status: 'parked' })
    .orderBy('updated_at')
    .limit(limit)) as Array<Record<string, unknown>>;
  return rows.map(toTargetUser);
}

export interface TargetGroup {
  kind: 'role' | 'group';
  key: string;
  remoteId: string;
  displayName: string;
}

export async function targetGroups(knex: Knex, target: string): Promise<Map<string, TargetGroup>> {
  const rows = (await knex('target_groups').where({ target })) as Array<Record<string, string>>;
  return new Map(
    rows.map((r) => [
      `${r.kind}:${r.name_key}`,
      { kind: r.kind as 'role' | 'group', key: r.name_key!, remoteId: r.remote_id!, displayName: r.display_name! },
    ]),
  );
}

export async function saveTargetGroup(knex: Knex, target: string, group: TargetGroup): Promise<void> {
  await knex('target_groups')
    .insert({
      target,
      kind: group.kind,
      name_key: group.key,
      remote_id: group.remoteId,
      display_name: group.displayName,
    })
    .onConflict(['target', 'kind', 'name_key'])
    .merge(['remote_id', 'display_name']);
}

/** The newest event's seq (0 without any): how far a target's cursor can go. */
export async function chainEnd(knex: Knex): Promise<number> {
  const row = (await knex('audit_events').max({ seq: 'seq' }).first()) as { seq: number | string | null } | undefined;
  return Number(row?.seq ?? 0);
}
