/**
 * Writes a batch's change set inside the caller's transaction, on the import's own connection:
 * missing departments (and groups) inserted, created and changed users upserted, the membership
 * sets that differ replaced — a handful of set-based statements per batch, never one round-trip
 * per row. Memberships need the users' ids, so this path reads them back (queue-change-set.ts is
 * the writer thread's path, which refers to rows by key instead).
 */
import type { Knex } from 'knex';
import { bulkInsert, selectArrays } from '../../db/bulk.js';
import type { Database } from '../../db/knex.js';
import { findCatalogIds } from '../../db/repositories/catalog.js';
import type { AuditEvent } from '../../db/repositories/audit.js';
import { chunk } from '../../db/time.js';
import {
  DEPARTMENT,
  MERGE_COLUMNS,
  USER_COLUMNS,
  batchEvents,
  catalogEvent,
  forEachMembershipChange,
  type ChangeContext,
  type ChangeSet,
} from './change-set.js';

/** The store's limits and capabilities a write needs. */
export type WriteTarget = Pick<Database, 'dialect' | 'capabilities' | 'maxInsertRows' | 'maxInParams'>;

/** Writes `changes` in `trx`; resolves to the batch's audit events, for the caller to record with it. */
export async function writeChangeSet(
  trx: Knex,
  changes: ChangeSet,
  ctx: ChangeContext,
  target: WriteTarget,
): Promise<AuditEvent[]> {
  const catalogEvents: AuditEvent[] = [];
  const departments = await ensureDepartments(trx, changes, ctx, target, catalogEvents);
  const groupIds = await ensureGroups(trx, changes, ctx, catalogEvents);
  const upserts = [...changes.creates, ...changes.updates];
  if (upserts.length > 0) {
    for (const upsert of upserts)
      upsert[DEPARTMENT] = upsert[DEPARTMENT] === null ? null : (departments.get(upsert[DEPARTMENT] as string) ?? null);
    // Where the upsert can hand back the new users' ids, it does; elsewhere replaceMemberships selects them.
    const returning = target.capabilities.insertReturning && createsMembers(changes) ? ['id', 'username'] : undefined;
    const written = await bulkInsert(trx, target.dialect, target.maxInsertRows, {
      table: 'users',
      columns: USER_COLUMNS,
      rows: upserts,
      conflict: { column: 'username', merge: MERGE_COLUMNS },
      ...(returning ? { returning } : {}),
    });
    await replaceMemberships(trx, changes, ctx, target, groupIds, returning ? userIds(written) : undefined);
  }
  return batchEvents(changes, catalogEvents);
}

async function ensureDepartments(
  trx: Knex,
  changes: ChangeSet,
  ctx: ChangeContext,
  target: WriteTarget,
  events: AuditEvent[],
): Promise<Map<string, number>> {
  const wanted = changes.departments;
  if (wanted.size === 0) return new Map();
  const ids = await findCatalogIds(trx, 'departments', [...wanted.keys()]);
  const missing = [...wanted].filter(([key]) => !ids.has(key));
  if (missing.length === 0) return ids;
  for (const part of chunk(missing, target.maxInsertRows)) {
    await trx('departments').insert(part.map(([key, name]) => ({ name, name_key: key, created_at: ctx.now })));
  }
  for (const [, name] of missing) events.push(catalogEvent(ctx, 'department.created', name));
  return findCatalogIds(trx, 'departments', [...wanted.keys()]);
}

/** Creates the batch's new groups (adding them to the catalogue); resolves to every group's id by key. */
async function ensureGroups(
  trx: Knex,
  changes: ChangeSet,
  ctx: ChangeContext,
  events: AuditEvent[],
): Promise<Map<string, number>> {
  const missing = changes.newGroups;
  if (missing.size > 0) {
    await trx('user_groups').insert([...missing].map(([key, name]) => ({ name, name_key: key, created_at: ctx.now })));
    const ids = await findCatalogIds(trx, 'groups', [...missing.keys()]);
    for (const [key, name] of missing) {
      ctx.catalog.groups.set(key, { id: ids.get(key) ?? -1, name });
      events.push(catalogEvent(ctx, 'group.created', name));
    }
  }
  return new Map([...ctx.catalog.groups].map(([key, entry]) => [key, entry.id]));
}

/** A user created with roles or groups: its id is needed right after the upsert. */
const createsMembers = (changes: ChangeSet): boolean =>
  changes.diffs.some((d) => d.kind === 'create' && (d.next.roleKeys.length > 0 || d.next.groupKeys.length > 0));

const userIds = (rows: readonly unknown[][]): Map<string, number> =>
  new Map(rows.map(([id, username]) => [username as string, Number(id)]));

interface MembershipChange {
  username: string;
  storedId: number | undefined;
  keys: readonly string[];
}

/** `written`: the ids of the users the upsert wrote, by username, when it returned them. */
async function replaceMemberships(
  trx: Knex,
  changes: ChangeSet,
  ctx: ChangeContext,
  target: WriteTarget,
  groupIds: Map<string, number>,
  written?: Map<string, number>,
): Promise<void> {
  const collect = (field: 'roles' | 'groups') => {
    const list: MembershipChange[] = [];
    forEachMembershipChange(changes, field, (username, storedId, keys) => list.push({ username, storedId, keys }));
    return list;
  };
  const roles = collect('roles');
  const groups = collect('groups');
  if (roles.length === 0 && groups.length === 0) return;
  const ids = written ?? new Map<string, number>();
  // Users created by this batch: their new ids, one select per chunk through the driver.
  const created = written
    ? []
    : [...new Set([...roles, ...groups].filter((m) => m.storedId === undefined).map((m) => m.username))];
  for (const part of chunk(created, target.maxInParams)) {
    const rows = (await selectArrays(
      trx,
      target.dialect,
      `select \`id\`, \`username\` from \`users\` where \`username\` in (${part.map(() => '?').join(',')})`,
      part,
    )) as Array<[number | string, string]>;
    for (const [id, username] of rows) ids.set(username, Number(id));
  }
  const replace = async (
    members: MembershipChange[],
    table: string,
    column: string,
    idOf: (key: string) => number | undefined,
  ) => {
    if (members.length === 0) return;
    // A user created by this batch has no memberships yet: only stored users' sets are deleted.
    const storedIds = members.flatMap((m) => (m.storedId === undefined ? [] : [m.storedId]));
    for (const part of chunk(storedIds, target.maxInParams)) await trx(table).whereIn('user_id', part).delete();
    const pairs = members.flatMap((m) => m.keys.map((key) => [m.storedId ?? ids.get(m.username), idOf(key)]));
    await bulkInsert(trx, target.dialect, target.maxInsertRows, { table, columns: ['user_id', column], rows: pairs });
  };
  await replace(roles, 'user_roles', 'role_id', (key) => ctx.catalog.roles.get(key)?.id);
  await replace(groups, 'user_group_members', 'group_id', (key) => groupIds.get(key));
}
