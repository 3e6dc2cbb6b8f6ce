/**
 * What a revert (SPEC §10) asks of each user an import changed, worked out from the import's
 * audit events and the users as they are now — the revert's "rows". The result is a prepared
 * batch like a file's (apply/prepare.ts): the apply stage then diffs, counts for the guards,
 * plans, writes and audits it exactly as it does an import's.
 *
 * Per field the import changed (`{old, new}` in its `user.updated` / `user.deactivated` event):
 * - the value now is the import's `new`        → set back to `old`;
 * - the value now is already `old`              → nothing to do (a second revert changes nothing);
 * - anything else: it changed again since       → a conflict, left alone and reported — unless
 *   `--force`, which sets it back to `old` all the same.
 * A user the import created is deactivated (`active` as if it went from false to its created
 * value; its other fields stay). A password is never set back (no old hash is kept): its user is
 * listed so the password can be reset. A role or group that no longer exists cannot be given back:
 * a conflict even with `--force`. Protected accounts hold as for an import (SPEC §9): a user in
 * safety.protectedUsers, or one whose revert would grant or remove a role or group in
 * safety.protectedRoles, fails (ROW_PROTECTED_USER, ROW_PROTECTED_ROLE) and is left as it is.
 */
import type { Knex } from 'knex';
import type { StoredAuditEvent } from '../../db/repositories/audit.js';
import { catalogKey, cleanCatalogName } from '../../domain/catalog-name.js';
import type { ChangeField, PreparedIntent, StoredUser } from '../../domain/merge.js';
import { protectedUserMessage } from '../../domain/protected.js';
import { loadStoredUsers } from '../apply/stored-users.js';
import { failProtectedChanges, type PrepareContext, type PreparedBatch } from '../apply/prepare.js';
import type { RowResult } from '../report/index.js';

/** The fields a revert sets back (the password is not among them). */
const REVERTIBLE = ['name', 'email', 'phone', 'department', 'active', 'ignoreMfa', 'roles', 'groups'] as const;
type RevertField = (typeof REVERTIBLE)[number];

/** One user's events of the import, merged: each field's value before the import and what the import left. */
interface UserChange {
  row: number | null;
  username: string;
  created: boolean;
  password: boolean;
  fields: Map<RevertField, { old: unknown; new: unknown }>;
}

/** What the revert learns while it prepares its batches, reported after its rows. */
export class RevertNotes {
  /** One row per field left alone (status `conflict`), in the order found. */
  readonly conflicts: RowResult[] = [];
  /** Users whose password the import changed. */
  readonly passwords: string[] = [];
}

export interface RevertSettings {
  /** The import reverted, for the messages. */
  importId: number;
  force: boolean;
  notes: RevertNotes;
}

/** The user events of one import, as the revert reads them (paged by id on the import_id index). */
export type RevertEvents = readonly StoredAuditEvent[];

/** Prepares one page of the import's user events: PrepareWith (apply/index.ts) for a revert. */
export function revertPreparer(settings: RevertSettings) {
  return async (
    handle: () => Knex | Promise<Knex>,
    events: RevertEvents,
    context: PrepareContext,
  ): Promise<PreparedBatch> => {
    const changes = mergeByUser(events);
    const usernames = [...changes.keys()];
    const stored = await context.onDatabase(async () =>
      loadStoredUsers(await handle(), context.dialect, usernames, context.maxInParams, context.membershipKeys),
    );
    const batch: PreparedBatch = { intents: [], raws: [], failed: [], order: [], stored: new Map() };
    for (const change of changes.values()) {
      const user = stored.get(change.username);
      if (!user) continue; // users are never deleted; one that is gone has nothing to set back
      const row = change.row ?? 0; // a user a mirror deactivated had no row: reported as null
      if (context.rules.isProtectedUser?.(change.username)) {
        batch.order.push(-1 - batch.failed.length);
        batch.failed.push({
          row,
          username: change.username,
          code: 'ROW_PROTECTED_USER',
          message: protectedUserMessage(change.username),
          raw: { row, cells: [] },
        });
        continue;
      }
      if (change.password && !change.created) settings.notes.passwords.push(change.username);
      const intent = revertIntent(change, user, settings, context);
      if (intent === undefined) continue;
      batch.order.push(batch.intents.length);
      batch.intents.push(intent);
      batch.raws.push({ row, cells: [] });
      batch.stored.set(change.username, user);
    }
    // safety.protectedRoles hold for a revert as for an import (SPEC §9): such a user fails.
    failProtectedChanges(batch, context.protectedRoles);
    return batch;
  };
}

/** The user events of a page by username, in the order first seen: the first event's old, the last one's new. */
function mergeByUser(events: RevertEvents): Map<string, UserChange> {
  const users = new Map<string, UserChange>();
  for (const event of events) {
    if (event.username === null || event.changes === null) continue;
    let change = users.get(event.username);
    if (!change) {
      change = { row: event.row, username: event.username, created: false, password: false, fields: new Map() };
      users.set(event.username, change);
    }
    if (event.action === 'user.created') change.created = true;
    for (const [field, value] of Object.entries(event.changes)) {
      if (field === 'password') change.password = true;
      if (!(REVERTIBLE as readonly string[]).includes(field) || !isOldNew(value)) continue;
      const known = change.fields.get(field as RevertField);
      change.fields.set(field as RevertField, { old: known ? known.old : value.old, new: value.new });
    }
  }
  // A user the import created did not exist before it: only `active` goes back, to false.
  for (const change of users.values()) {
    if (!change.created) continue;
    const active = change.fields.get('active');
    change.fields = new Map([['active', { old: false, new: active ? active.new : true }]]);
  }
  return users;
}

const isOldNew = (value: unknown): value is { old: unknown; new: unknown } =>
  typeof value === 'object' && value !== null && 'old' in value && 'new' in value;

/**
 * The intent that sets `change`'s fields back on `user`, noting conflicts; undefined when it has
 * no field to set (every one a conflict, or only a password changed).
 */
function revertIntent(
  change: UserChange,
  user: StoredUser,
  settings: RevertSettings,
  context: PrepareContext,
): PreparedIntent | undefined {
  const intent: PreparedIntent = { row: change.row ?? 0, username: change.username };
  let fields = 0;
  const conflict = (field: RevertField, message: string) =>
    settings.notes.conflicts.push({
      row: change.row,
      username: change.username,
      status: 'conflict',
      changes: [field as ChangeField],
      message,
    });
  for (const [field, { old, new: made }] of change.fields) {
    const now = valueNow(user, field);
    if (!same(field, now, made) && !same(field, now, old) && !settings.force) {
      conflict(
        field,
        `${field} is now ${shown(now)}; import ${settings.importId} set it to ${shown(made)} (it was ${shown(old)}). It changed again after the import, so it is not reverted; --force sets it back.`,
      );
      continue;
    }
    const missing = missingCatalogNames(field, old, context);
    if (missing.length > 0) {
      conflict(
        field,
        `${field} cannot be set back to ${shown(old)}: ${missing.join(', ')} no longer ${missing.length === 1 ? 'exists' : 'exist'}. Add ${missing.length === 1 ? 'it' : 'them'} (usersync ${field} add …) and revert again.`,
      );
      continue;
    }
    if (setBack(intent, field, old)) fields++;
  }
  return fields === 0 ? undefined : intent;
}

/** The user's value of `field` now, as the audit trail writes it (names for department, roles, groups). */
function valueNow(user: StoredUser, field: RevertField): unknown {
  switch (field) {
    case 'department':
      return user.departmentName;
    case 'roles':
      return user.roleKeys;
    case 'groups':
      return user.groupKeys;
    default:
      return user[field];
  }
}

/** Equal as the field compares: catalogue names by key, lists as sets. */
function same(field: RevertField, a: unknown, b: unknown): boolean {
  if (field === 'department') return keyOf(a) === keyOf(b);
  if (field === 'roles' || field === 'groups') {
    const left = new Set(keysOf(a));
    const right = keysOf(b);
    return left.size === new Set(right).size && right.every((key) => left.has(key));
  }
  return a === b;
}

const keyOf = (name: unknown): string | null => (typeof name === 'string' ? catalogKey(name) : null);
const keysOf = (names: unknown): string[] =>
  Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string').map(catalogKey) : [];

/** The role or group names of `old` the catalogue lacks now (groups are created with import.createMissingGroups). */
function missingCatalogNames(field: RevertField, old: unknown, context: PrepareContext): string[] {
  if (field === 'roles') return (old as string[]).filter((name) => !context.rules.roles.has(catalogKey(name)));
  if (field === 'groups' && !context.rules.createMissingGroups)
    return (old as string[]).filter((name) => !context.rules.groups.has(catalogKey(name)));
  return [];
}

/** Puts `old` into the intent; false when the field cannot take it (a name is never emptied). */
function setBack(intent: PreparedIntent, field: RevertField, old: unknown): boolean {
  switch (field) {
    case 'name':
      if (typeof old !== 'string') return false;
      intent.name = old;
      return true;
    case 'email':
    case 'phone':
      intent[field] = typeof old === 'string' ? old : null;
      return true;
    case 'department':
      intent.department = typeof old === 'string' ? { name: cleanCatalogName(old), key: catalogKey(old) } : null;
      return true;
    case 'active':
    case 'ignoreMfa':
      if (typeof old !== 'boolean') return false;
      intent[field] = old;
      return true;
    case 'roles':
      intent.roles = keysOf(old);
      return true;
    case 'groups':
      intent.groups = (Array.isArray(old) ? (old as string[]) : []).map((name) => ({
        name: cleanCatalogName(name),
        key: catalogKey(name),
      }));
      return true;
  }
}

/** A value as a message shows it: text quoted, empty as "(empty)". */
function shown(value: unknown): string {
  if (value === null || value === undefined) return '(empty)';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : JSON.stringify(value.join(', '));
  return JSON.stringify(value);
}
