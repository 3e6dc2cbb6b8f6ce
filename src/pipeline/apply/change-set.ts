/**
 * What one prepared batch changes, worked out in memory and shared by every way of applying it
 * (the sinks): each row's outcome, the users to create and to update, the audit events of those
 * changes, the departments they are in, the groups to create and whose memberships to replace.
 * Nothing here reads or writes the database; which departments exist is for a sink to find out.
 */
import type { RawRow } from '../../domain/columns.js';
import { createdAuditJson, diffUser, type ChangeField, type UserDiff } from '../../domain/merge.js';
import { SerializedChanges, type AuditEvent } from '../../db/repositories/audit.js';
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

/** What every batch of one import shares. */
export interface ChangeContext {
  importId: number | null;
  /** Who runs the import: the actor of every event. */
  actor: string;
  /** The time of every change and event. */
  now: string;
  /** Rows are labelled `would-create` / `would-update`. */
  dryRun: boolean;
  /** Roles and groups by key; sinks add the groups they create. */
  catalog: CatalogCache;
  createMissingGroups: boolean;
  /** The import's feed: a user it creates is owned by it (SPEC §8). */
  feed: string;
}

export interface ChangeSet {
  /** Every row of the batch in file order, failed rows with the rest. */
  rows: AppliedRow[];
  /** One `user.created` / `user.updated` event per created or changed user, in file order. */
  userEvents: AuditEvent[];
  /** `users` rows (USER_COLUMNS) of new users, with the department's key where the table stores its id. */
  creates: unknown[][];
  /** The same for stored users that changed. */
  updates: unknown[][];
  /** The departments of the created and changed users: key → name as first written. */
  departments: Map<string, string>;
  /** With import.createMissingGroups, the groups those users name that the catalogue lacks: key → name. */
  newGroups: Map<string, string>;
  readonly batch: PreparedBatch;
  readonly diffs: readonly UserDiff[];
}

export const USER_COLUMNS = [
  'username',
  'name',
  'email',
  'phone',
  'department_id',
  'active',
  'ignore_mfa',
  'password_hash',
  'password_updated_at',
  'created_at',
  'updated_at',
  'last_import_id',
  'deactivated_reason',
  'feed',
];
/**
 * Everything but the key, created_at and the owning feed: an upsert of a changed user rewrites
 * only those. A user's feed changes only when a mirror file lists it (apply/mirror.ts adopts it).
 */
export const MERGE_COLUMNS = USER_COLUMNS.filter((c) => c !== 'username' && c !== 'created_at' && c !== 'feed');
/** Index of the department in a `users` row: its key until a sink turns it into what it stores. */
export const DEPARTMENT = USER_COLUMNS.indexOf('department_id');

export function buildChangeSet(batch: PreparedBatch, ctx: ChangeContext): ChangeSet {
  const diffs: UserDiff[] = batch.intents.map((intent) => diffUser(batch.stored.get(intent.username), intent));
  const newGroups = ctx.createMissingGroups ? missingGroups(batch, diffs, ctx.catalog) : new Map<string, string>();
  const changes: ChangeSet = {
    rows: [],
    userEvents: [],
    creates: [],
    updates: [],
    departments: wantedDepartments(diffs),
    newGroups,
    batch,
    diffs,
  };
  userChanges(changes, ctx);
  return changes;
}

/** The event of a department or group a sink created for the batch. */
export function catalogEvent(
  ctx: ChangeContext,
  action: 'department.created' | 'group.created',
  name: string,
): AuditEvent {
  return {
    at: ctx.now,
    importId: ctx.importId,
    row: null,
    username: null,
    action,
    changes: { name },
    actor: ctx.actor,
  };
}

/** The batch's audit events: the departments and groups created for it first, then its users'. */
export function batchEvents(changes: ChangeSet, catalogEvents: readonly AuditEvent[]): AuditEvent[] {
  return catalogEvents.length === 0 ? changes.userEvents : [...catalogEvents, ...changes.userEvents];
}

/**
 * Calls `visit` for each created or changed user whose roles (or groups) changed, in file order,
 * with its stored id (undefined for a user this batch creates: it has no memberships yet) and the
 * keys of its new set.
 */
export function forEachMembershipChange(
  changes: ChangeSet,
  field: 'roles' | 'groups',
  visit: (username: string, storedId: number | undefined, keys: readonly string[]) => void,
): void {
  const keys = field === 'roles' ? 'roleKeys' : 'groupKeys';
  const { intents, stored } = changes.batch;
  changes.diffs.forEach((diff, i) => {
    if ((diff.kind !== 'create' && diff.kind !== 'update') || !diff.changes.includes(field)) return;
    const username = intents[i]!.username;
    visit(username, stored.get(username)?.id, diff.next[keys]);
  });
}

/** Fills the rows, user events, creates and updates of `changes`. */
function userChanges(changes: ChangeSet, ctx: ChangeContext): void {
  const { batch, diffs, creates, updates, userEvents } = changes;
  const { stored } = batch;
  const rows: AppliedRow[] = [];
  const names = catalogNames(ctx.catalog, changes.newGroups);
  // Objects made for every row are written out as literals (no spreads): this loop runs 100k times a file.
  batch.intents.forEach((intent, i) => {
    const diff = diffs[i] as UserDiff;
    const { row, username } = intent;
    if (diff.kind === 'unchanged') rows.push({ row, username, status: 'unchanged', changes: [] });
    else if (diff.kind === 'fail')
      rows.push({
        row,
        username,
        status: 'failed',
        changes: [],
        code: diff.code,
        message: diff.message,
        raw: batch.raws[i],
      });
    else {
      const created = diff.kind === 'create';
      rows.push({
        row,
        username,
        status: ctx.dryRun ? (created ? 'would-create' : 'would-update') : created ? 'created' : 'updated',
        changes: diff.changes,
      });
      const before = stored.get(intent.username);
      const audit =
        diff.kind === 'create'
          ? new SerializedChanges(createdAuditJson(diff.next, diff.changes, names))
          : withNames(diff.audit, names);
      userEvents.push({
        at: ctx.now,
        importId: ctx.importId,
        row,
        username,
        action: created ? 'user.created' : 'user.updated',
        changes: audit,
        actor: ctx.actor,
      });
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
        // Why the user is inactive: kept until a row says Active again (or reactivates it, mirror.ts).
        intent.active !== undefined ? null : (before?.deactivatedReason ?? null),
        before ? (before.feed ?? null) : ctx.feed,
      ]);
    }
  });
  // Rows that failed validation, in file order with the rest.
  changes.rows = batch.order.map((index) => {
    if (index >= 0) return rows[index] as AppliedRow;
    const failed = batch.failed[-1 - index];
    if (!failed) throw new Error('prepared batch order is inconsistent');
    return {
      row: failed.row,
      username: failed.username,
      status: 'failed' as const,
      changes: [],
      code: failed.code,
      message: failed.message,
      raw: failed.raw,
    };
  });
}

/** The departments the batch's created and changed users are in: key → name as first written. */
function wantedDepartments(diffs: readonly UserDiff[]): Map<string, string> {
  const wanted = new Map<string, string>();
  for (const diff of diffs) {
    if (
      (diff.kind === 'create' || diff.kind === 'update') &&
      diff.next.departmentKey !== null &&
      !wanted.has(diff.next.departmentKey)
    )
      wanted.set(diff.next.departmentKey, diff.next.departmentName ?? diff.next.departmentKey);
  }
  return wanted;
}

/** Groups the batch's created and changed users name that the catalogue lacks: key → name as first written. */
function missingGroups(batch: PreparedBatch, diffs: readonly UserDiff[], catalog: CatalogCache): Map<string, string> {
  const missing = new Map<string, string>();
  batch.intents.forEach((intent, i) => {
    if (diffs[i]?.kind !== 'create' && diffs[i]?.kind !== 'update') return;
    for (const g of intent.groups ?? [])
      if (!catalog.groups.has(g.key) && !missing.has(g.key)) missing.set(g.key, g.name);
  });
  return missing;
}

/**
 * Role and group keys to the names people wrote: the catalogue's, then those of the groups this
 * batch creates, else the key itself.
 */
function catalogNames(
  catalog: CatalogCache,
  newGroups: ReadonlyMap<string, string>,
): Parameters<typeof createdAuditJson>[2] {
  return {
    roles: (keys) => keys.map((k) => catalog.roles.get(k)?.name ?? k),
    groups: (keys) => keys.map((k) => catalog.groups.get(k)?.name ?? newGroups.get(k) ?? k),
  };
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
