/**
 * Applies one prepared batch inside the caller's transaction, set-based: read the batch's stored
 * users, diff in memory, create missing departments (and groups when allowed), upsert only the
 * created and changed users, replace only the membership sets that differ, and write one audit
 * event per change — a handful of statements per batch, never one round-trip per row.
 * In a dry run the same diff is computed and nothing is written.
 */
import type { Knex } from 'knex';
import type { RawRow } from '../../domain/columns.js';
import { createdAuditJson, diffUser, type ChangeField, type PreparedIntent, type UserDiff } from '../../domain/merge.js';
import { findCatalogIds } from '../../db/repositories/catalog.js';
import { SerializedChanges, type AuditEvent } from '../../db/repositories/audit.js';
import { bulkInsert, bulkStatements, selectArrays, type BulkInsert } from '../../db/bulk.js';
import type { ImportWriter } from '../../db/statement-writer.js';
import type { Dialect } from '../../db/knex.js';
import { chunk } from '../../db/time.js';
import type { CatalogCache } from './catalog-cache.js';
import type { PreparedBatch } from './prepare.js';

export type AppliedStatus = 'created' | 'updated' | 'unchanged' | 'failed' | 'would-create' | 'would-update';

export interface AppliedRow {
  row: number;
  username: string;
  status: AppliedStatus;
  changes: ChangeField[];
  code?: string;
  message?: string;
  /** Present on failed rows: the cells as read, for the Failed rows sheet. */
  raw?: RawRow;
}

export interface WriteContext {
  dialect: Dialect;
  importId: number | null;
  actor: string;
  now: string;
  dryRun: boolean;
  catalog: CatalogCache;
  createMissingGroups: boolean;
  maxInsertRows: number;
  maxInParams: number;
}

export interface BatchOutcome {
  rows: AppliedRow[];
  /** Audit events written in the transaction, for the audit log file once it commits. */
  events: AuditEvent[];
}

const USER_COLUMNS = ['username', 'name', 'email', 'phone', 'department_id', 'active', 'ignore_mfa', 'password_hash', 'password_updated_at', 'created_at', 'updated_at', 'last_import_id'];
/** Everything but the key and created_at: an upsert of a changed user rewrites only those. */
const MERGE_COLUMNS = USER_COLUMNS.filter((c) => c !== 'username' && c !== 'created_at');

export async function writeBatch(trx: Knex, batch: PreparedBatch, ctx: WriteContext): Promise<BatchOutcome> {
  const { stored } = batch;
  const diffs: UserDiff[] = batch.intents.map((intent) => diffUser(stored.get(intent.username), intent));
  const events: AuditEvent[] = [];
  const event = (e: Omit<AuditEvent, 'at' | 'importId' | 'actor'>) => events.push({ at: ctx.now, importId: ctx.importId, ...e, actor: ctx.actor });

  const departments = await ensureDepartments(trx, diffs, ctx, event);
  const groupIds = await ensureGroups(trx, batch, diffs, ctx, event);
  const { rows, creates, updates } = userChanges(batch, diffs, ctx, events);
  const upserts = [...creates, ...updates];

  if (!ctx.dryRun && upserts.length > 0) {
    for (const upsert of upserts) upsert[DEPARTMENT] = upsert[DEPARTMENT] === null ? null : (departments.get(upsert[DEPARTMENT] as string) ?? null);
    // SQLite hands back the new users' ids with the upsert; MySQL's upsert cannot (replaceMemberships selects them).
    const returning = ctx.dialect === 'sqlite' && createsMembers(diffs) ? ['id', 'username'] : undefined;
    const written = await bulkInsert(trx, ctx.dialect, ctx.maxInsertRows, { table: 'users', columns: USER_COLUMNS, rows: upserts, conflict: { column: 'username', merge: MERGE_COLUMNS }, ...(returning ? { returning } : {}) });
    await replaceMemberships(trx, batch, diffs, stored, ctx, groupIds, returning ? userIds(written) : undefined);
  }
  return { rows, events: ctx.dryRun ? [] : events };
}

/** Where `queueBatch` learns which departments exist: the import's own connection, outside the writer's transaction. */
export interface QueueContext extends WriteContext {
  lookup: Knex;
  /** Departments known to exist (read, or created by this import), by key: kept across the import's batches. */
  departments: Set<string>;
}

/**
 * `writeBatch` for SQLite's writer thread (db/sqlite-writer.ts): the same diff, the same rows and
 * events, as statements queued on `writer` that need nothing back. New departments are inserted
 * (`on conflict do nothing`) and users refer to theirs by key; memberships refer to their user by
 * username and to their group by key — so no statement waits for another's ids.
 */
export async function queueBatch(writer: ImportWriter, batch: PreparedBatch, ctx: QueueContext): Promise<BatchOutcome> {
  const { stored } = batch;
  const diffs: UserDiff[] = batch.intents.map((intent) => diffUser(stored.get(intent.username), intent));
  const events: AuditEvent[] = [];
  const event = (e: Omit<AuditEvent, 'at' | 'importId' | 'actor'>) => events.push({ at: ctx.now, importId: ctx.importId, ...e, actor: ctx.actor });
  const statements = (insert: BulkInsert) => writer.queue(bulkStatements(ctx.dialect, ctx.maxInsertRows, insert));

  // Departments not seen yet are looked up in what is committed; those missing are inserted
  // (another process adding the same one meanwhile makes that insert a no-op, not a failure).
  const wanted = wantedDepartments(diffs);
  const unknown = [...wanted.keys()].filter((key) => !ctx.departments.has(key));
  if (unknown.length > 0) {
    for (const key of (await findCatalogIds(ctx.lookup, 'departments', unknown)).keys()) ctx.departments.add(key);
    const missing = unknown.filter((key) => !ctx.departments.has(key)).map((key) => [wanted.get(key) as string, key, ctx.now]);
    if (missing.length > 0) {
      statements({ table: 'departments', columns: ['name', 'name_key', 'created_at'], rows: missing, conflict: { column: 'name_key', merge: [] } });
      for (const [name, key] of missing) {
        ctx.departments.add(key as string);
        event({ row: null, username: null, action: 'department.created', changes: { name } });
      }
    }
  }
  const newGroups = ctx.createMissingGroups ? missingGroups(batch, diffs, ctx.catalog) : new Map<string, string>();
  if (newGroups.size > 0) {
    statements({ table: 'user_groups', columns: ['name', 'name_key', 'created_at'], rows: [...newGroups].map(([key, name]) => [name, key, ctx.now]), conflict: { column: 'name_key', merge: [] } });
    for (const [key, name] of newGroups) {
      // Its id is never needed on this path (memberships name groups by key); -1 marks it unread.
      ctx.catalog.groups.set(key, { id: -1, name });
      event({ row: null, username: null, action: 'group.created', changes: { name } });
    }
  }

  const { rows, creates, updates } = userChanges(batch, diffs, ctx, events);
  if (creates.length + updates.length === 0) return { rows, events };
  // New users by a plain insert: one another process created since the look-up fails the batch
  // (DB_CONFLICT, retried) instead of being overwritten and audited as created. On MySQL their
  // ids then follow from the insert's (mysql-writer.ts), without a select.
  if (creates.length > 0) statements({ table: 'users', columns: USER_COLUMNS, rows: creates, references: { department_id: BY_KEY('departments') }, identifies: 'username' });
  if (updates.length > 0) statements({ table: 'users', columns: USER_COLUMNS, rows: updates, conflict: { column: 'username', merge: MERGE_COLUMNS }, references: { department_id: BY_KEY('departments') } });
  const membership = (table: string, column: string, field: 'roles' | 'groups', reference: { table: string; key: string } | undefined, value: (key: string) => unknown) => {
    const storedIds: number[] = [];
    const pairs: unknown[][] = [];
    const keys = field === 'roles' ? 'roleKeys' : 'groupKeys';
    diffs.forEach((diff, i) => {
      if ((diff.kind !== 'create' && diff.kind !== 'update') || !diff.changes.includes(field)) return;
      const { username } = batch.intents[i] as PreparedIntent;
      // A user created by this batch has no memberships yet: only stored users' sets are deleted.
      const before = stored.get(username);
      if (before) storedIds.push(before.id);
      for (const key of diff.next[keys]) pairs.push([username, value(key)]);
    });
    for (const part of chunk(storedIds, ctx.maxInParams)) writer.queue([{ sql: `delete from \`${table}\` where \`user_id\` in (${part.map(() => '?').join(',')})`, rows: [part] }]);
    statements({ table, columns: ['user_id', column], rows: pairs, references: { user_id: { table: 'users', key: 'username' }, ...(reference ? { [column]: reference } : {}) } });
  };
  membership('user_roles', 'role_id', 'roles', undefined, (key) => ctx.catalog.roles.get(key)?.id);
  membership('user_group_members', 'group_id', 'groups', BY_KEY('user_groups'), (key) => key);
  return { rows, events };
}

/** Index of the department in a users row: its key until the caller turns it into what it stores. */
const DEPARTMENT = USER_COLUMNS.indexOf('department_id');
const BY_KEY = (table: string) => ({ table, key: 'name_key' });

/**
 * Each row's outcome (in file order, failed rows with the rest), a `user.created`/`user.updated`
 * event per change appended to `events`, and the users rows to write, new and stored apart — with
 * the department's key where the table stores its id (DEPARTMENT).
 */
function userChanges(batch: PreparedBatch, diffs: readonly UserDiff[], ctx: WriteContext, events: AuditEvent[]): { rows: AppliedRow[]; creates: unknown[][]; updates: unknown[][] } {
  const { stored } = batch;
  const creates: unknown[][] = [];
  const updates: unknown[][] = [];
  const rows: AppliedRow[] = [];
  const names = catalogNames(ctx.catalog);
  // Objects made for every row are written out as literals (no spreads): this loop runs 100k times a file.
  batch.intents.forEach((intent, i) => {
    const diff = diffs[i] as UserDiff;
    const { row, username } = intent;
    if (diff.kind === 'unchanged') rows.push({ row, username, status: 'unchanged', changes: [] });
    else if (diff.kind === 'fail') rows.push({ row, username, status: 'failed', changes: [], code: diff.code, message: diff.message, raw: batch.raws[i] });
    else {
      const created = diff.kind === 'create';
      rows.push({ row, username, status: ctx.dryRun ? (created ? 'would-create' : 'would-update') : created ? 'created' : 'updated', changes: diff.changes });
      const before = stored.get(intent.username);
      const changes = diff.kind === 'create' ? new SerializedChanges(createdAuditJson(diff.next, diff.changes, names)) : withNames(diff.audit, names);
      events.push({ at: ctx.now, importId: ctx.importId, row, username, action: created ? 'user.created' : 'user.updated', changes, actor: ctx.actor });
      (created ? creates : updates).push([
        intent.username,
        diff.next.name,
        diff.next.email,
        diff.next.phone,
        diff.next.departmentKey,
        diff.next.active,
        diff.next.ignoreMfa,
        diff.next.passwordHash,
        diff.changes.includes('password') ? ctx.now : (before?.passwordUpdatedAt ?? null),
        before?.createdAt ?? ctx.now,
        ctx.now,
        ctx.importId,
      ]);
    }
  });
  // Rows that failed validation, in file order with the rest.
  const ordered = batch.order.map((index) => {
    if (index >= 0) return rows[index] as AppliedRow;
    const failed = batch.failed[-1 - index];
    if (!failed) throw new Error('prepared batch order is inconsistent');
    return { row: failed.row, username: failed.username, status: 'failed' as const, changes: [], code: failed.code, message: failed.message, raw: failed.raw };
  });
  return { rows: ordered, creates, updates };
}

type EventSink = (e: Omit<AuditEvent, 'at' | 'importId' | 'actor'>) => void;

async function ensureDepartments(trx: Knex, diffs: UserDiff[], ctx: WriteContext, event: EventSink): Promise<Map<string, number>> {
  const wanted = wantedDepartments(diffs);
  if (wanted.size === 0) return new Map();
  const ids = await findCatalogIds(trx, 'departments', [...wanted.keys()]);
  const missing = [...wanted].filter(([key]) => !ids.has(key));
  if (missing.length === 0 || ctx.dryRun) return ids;
  for (const part of chunk(missing, ctx.maxInsertRows)) {
    await trx('departments').insert(part.map(([key, name]) => ({ name, name_key: key, created_at: ctx.now })));
  }
  for (const [, name] of missing) event({ row: null, username: null, action: 'department.created', changes: { name } });
  return findCatalogIds(trx, 'departments', [...wanted.keys()]);
}

async function ensureGroups(trx: Knex, batch: PreparedBatch, diffs: UserDiff[], ctx: WriteContext, event: EventSink): Promise<Map<string, number>> {
  if (ctx.createMissingGroups) {
    const missing = missingGroups(batch, diffs, ctx.catalog);
    if (missing.size > 0 && !ctx.dryRun) {
      await trx('user_groups').insert([...missing].map(([key, name]) => ({ name, name_key: key, created_at: ctx.now })));
      const ids = await findCatalogIds(trx, 'groups', [...missing.keys()]);
      for (const [key, name] of missing) {
        ctx.catalog.groups.set(key, { id: ids.get(key) ?? -1, name });
        event({ row: null, username: null, action: 'group.created', changes: { name } });
      }
    }
  }
  return new Map([...ctx.catalog.groups].map(([key, entry]) => [key, entry.id]));
}

/** The departments the batch's created and changed users are in: key → name as first written. */
function wantedDepartments(diffs: readonly UserDiff[]): Map<string, string> {
  const wanted = new Map<string, string>();
  for (const diff of diffs) {
    if ((diff.kind === 'create' || diff.kind === 'update') && diff.next.departmentKey !== null && !wanted.has(diff.next.departmentKey)) wanted.set(diff.next.departmentKey, diff.next.departmentName ?? diff.next.departmentKey);
  }
  return wanted;
}

/** Groups the batch's created and changed users name that the catalogue lacks: key → name as first written. */
function missingGroups(batch: PreparedBatch, diffs: readonly UserDiff[], catalog: CatalogCache): Map<string, string> {
  const missing = new Map<string, string>();
  batch.intents.forEach((intent, i) => {
    if (diffs[i]?.kind !== 'create' && diffs[i]?.kind !== 'update') return;
    for (const g of intent.groups ?? []) if (!catalog.groups.has(g.key) && !missing.has(g.key)) missing.set(g.key, g.name);
  });
  return missing;
}

/** A user created with roles or groups: its id is needed right after the upsert. */
const createsMembers = (diffs: readonly UserDiff[]): boolean => diffs.some((d) => d.kind === 'create' && (d.next.roleKeys.length > 0 || d.next.groupKeys.length > 0));

const userIds = (rows: readonly unknown[][]): Map<string, number> => new Map(rows.map(([id, username]) => [username as string, Number(id)]));

/** `written`: the ids of the users the upsert wrote, by username, when it returned them. */
async function replaceMemberships(trx: Knex, batch: PreparedBatch, diffs: UserDiff[], before: Map<string, { id: number }>, ctx: WriteContext, groupIds: Map<string, number>, written?: Map<string, number>): Promise<void> {
  const changedRoles: string[] = [];
  const changedGroups: string[] = [];
  batch.intents.forEach((intent, i) => {
    const diff = diffs[i];
    if (!diff || (diff.kind !== 'create' && diff.kind !== 'update')) return;
    if (diff.changes.includes('roles')) changedRoles.push(intent.username);
    if (diff.changes.includes('groups')) changedGroups.push(intent.username);
  });
  if (changedRoles.length === 0 && changedGroups.length === 0) return;
  const ids = written ?? new Map<string, number>();
  const needIds = [...new Set([...changedRoles, ...changedGroups])];
  // Users created by this batch: their new ids, one select per chunk through the driver.
  for (const part of chunk(written ? [] : needIds.filter((u) => !before.has(u)), ctx.maxInParams)) {
    const rows = (await selectArrays(trx, ctx.dialect, `select \`id\`, \`username\` from \`users\` where \`username\` in (${part.map(() => '?').join(',')})`, part)) as Array<[number | string, string]>;
    for (const [id, username] of rows) ids.set(username, Number(id));
  }
  for (const username of needIds) {
    const known = before.get(username);
    if (known) ids.set(username, known.id);
  }
  const nextOf = new Map(batch.intents.map((intent, i) => [intent.username, diffs[i]]));
  const replace = async (usernames: string[], table: string, column: string, keysOf: (d: UserDiff) => string[], idOf: (key: string) => number | undefined) => {
    if (usernames.length === 0) return;
    // A user created by this batch has no memberships yet: only stored users' sets are deleted.
    const storedIds = usernames.filter((u) => before.has(u)).map((u) => ids.get(u) as number);
    for (const part of chunk(storedIds, ctx.maxInParams)) await trx(table).whereIn('user_id', part).delete();
    const pairs = usernames.flatMap((u) => keysOf(nextOf.get(u) as UserDiff).map((key) => [ids.get(u), idOf(key)]));
    await bulkInsert(trx, ctx.dialect, ctx.maxInsertRows, { table, columns: ['user_id', column], rows: pairs });
  };
  const nextKeys = (field: 'roleKeys' | 'groupKeys') => (d: UserDiff) => (d.kind === 'create' || d.kind === 'update' ? d.next[field] : []);
  await replace(changedRoles, 'user_roles', 'role_id', nextKeys('roleKeys'), (key) => ctx.catalog.roles.get(key)?.id);
  await replace(changedGroups, 'user_group_members', 'group_id', nextKeys('groupKeys'), (key) => groupIds.get(key));
}

/** Role and group keys to the names people wrote (the key itself when not in the catalogue). */
function catalogNames(catalog: CatalogCache): Parameters<typeof createdAuditJson>[2] {
  const names = (map: CatalogCache['roles']) => (keys: readonly string[]) => keys.map((k) => map.get(k)?.name ?? k);
  return { roles: names(catalog.roles), groups: names(catalog.groups) };
}

/** Audit records name roles and groups as people wrote them, not by their matching keys. */
function withNames(audit: Record<string, unknown>, names: ReturnType<typeof catalogNames>): Record<string, unknown> {
  if (audit.roles === undefined && audit.groups === undefined) return audit; // nothing to rename: no copy
  const out = { ...audit };
  for (const field of ['roles', 'groups'] as const) {
    const value = audit[field] as { old: unknown; new: unknown } | undefined;
    const named = (keys: unknown) => (Array.isArray(keys) ? names[field](keys as string[]) : keys);
    if (value) out[field] = { old: named(value.old), new: named(value.new) };
  }
  return out;
}
