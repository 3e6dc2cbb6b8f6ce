/**
 * The blank-keeps-value merge (SPEC §1): what a row changes on a stored user, field by field.
 * Pure: the apply stage loads the stored users and writes what this decides.
 *
 * Cases, per field:
 * - cell blank (intent field undefined)      → keep the stored value, no change;
 * - cell equal to the stored value           → no change;
 * - cell different                           → change, audited as {old, new};
 * - password: only ever "changed" or not; a password that verified against the stored hash
 *   arrives here without a hash, so it is no change.
 * - roles / groups: a non-blank cell replaces the set; equal sets (any order) are no change.
 * - cleared (the clear marker: null, or [] for roles / groups) → change to empty, audited as
 *   {old, new: null | []}; already empty → no change.
 * A new user needs a Name; Active defaults to Yes and Ignore MFA to No; a cleared field of a new
 * user is simply empty.
 */
import type { RowIntent } from './row-intent.js';

export type ChangeField =
  'name' | 'email' | 'phone' | 'department' | 'active' | 'ignoreMfa' | 'password' | 'roles' | 'groups';

/** What a validated row asks for, with the password already hashed (or dropped as unchanged). */
export type PreparedIntent = Omit<RowIntent, 'password'> & { passwordHash?: string };

export interface UserValues {
  name: string | null;
  email: string | null;
  phone: string | null;
  departmentKey: string | null;
  departmentName: string | null;
  active: boolean;
  ignoreMfa: boolean;
  passwordHash: string | null;
  roleKeys: string[];
  groupKeys: string[];
}

export interface StoredUser extends UserValues {
  id: number;
  username: string;
  createdAt: string;
  passwordUpdatedAt: string | null;
  /** The feed that owns the user (SPEC §8); null when none does. */
  feed?: string | null;
  /** Applied files of its mirror feed in a row that left the user out. */
  missingCount?: number;
  /** `absent` when a mirror feed deactivated the user. */
  deactivatedReason?: string | null;
}

export type AuditValue = { old: unknown; new: unknown } | { changed: true };

export type UserDiff =
  /** A new user's audit record is implied: each changed field from null to its `next` value (createdAuditJson). */
  | { kind: 'create'; changes: ChangeField[]; next: UserValues }
  | { kind: 'update'; changes: ChangeField[]; next: UserValues; audit: Record<string, AuditValue> }
  | { kind: 'unchanged' }
  | { kind: 'fail'; code: 'ROW_NAME_MISSING'; message: string };

/** Equal as sets; both lists are without repeats (cells are de-duplicated, stored keys unique). */
const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  if (a.length !== b.length) return false;
  // A row lists a few roles or groups: a scan beats building a Set for each row.
  if (a.length <= 16) return b.every((item) => a.includes(item));
  const set = new Set(a);
  return b.every((item) => set.has(item));
};

export function diffUser(stored: StoredUser | undefined, intent: PreparedIntent): UserDiff {
  if (!stored) return createUser(intent);
  const next: UserValues = { ...stored, roleKeys: stored.roleKeys, groupKeys: stored.groupKeys };
  const changes: ChangeField[] = [];
  const audit: Record<string, AuditValue> = {};
  const scalar = <K extends 'name' | 'email' | 'phone' | 'active' | 'ignoreMfa'>(
    field: K,
    value: UserValues[K] | undefined,
  ) => {
    if (value === undefined || value === stored[field]) return;
    next[field] = value;
    changes.push(field);
    audit[field] = { old: stored[field], new: value };
  };
  scalar('name', intent.name);
  scalar('email', intent.email);
  scalar('phone', intent.phone);
  if (intent.department !== undefined && (intent.department?.key ?? null) !== stored.departmentKey) {
    next.departmentKey = intent.department?.key ?? null;
    next.departmentName = intent.department?.name ?? null;
    changes.push('department');
    audit.department = { old: stored.departmentName, new: next.departmentName };
  }
  scalar('active', intent.active);
  scalar('ignoreMfa', intent.ignoreMfa);
  if (intent.passwordHash !== undefined) {
    next.passwordHash = intent.passwordHash;
    changes.push('password');
    audit.password = { changed: true };
  }
  if (intent.roles && !sameSet(intent.roles, stored.roleKeys)) {
    next.roleKeys = [...intent.roles].sort();
    changes.push('roles');
    audit.roles = { old: [...stored.roleKeys].sort(), new: next.roleKeys };
  }
  const groupKeys = intent.groups?.map((g) => g.key);
  if (groupKeys && !sameSet(groupKeys, stored.groupKeys)) {
    next.groupKeys = [...groupKeys].sort();
    changes.push('groups');
    audit.groups = { old: [...stored.groupKeys].sort(), new: next.groupKeys };
  }
  return changes.length === 0 ? { kind: 'unchanged' } : { kind: 'update', changes, next, audit };
}

function createUser(intent: PreparedIntent): UserDiff {
  if (intent.name === undefined) {
    return {
      kind: 'fail',
      code: 'ROW_NAME_MISSING',
      message: `"${intent.username}" is a new user and needs a Name; fill in the Name cell.`,
    };
  }
  const next: UserValues = {
    name: intent.name,
    email: intent.email ?? null,
    phone: intent.phone ?? null,
    departmentKey: intent.department?.key ?? null,
    departmentName: intent.department?.name ?? null,
    active: intent.active ?? true,
    ignoreMfa: intent.ignoreMfa ?? false,
    passwordHash: intent.passwordHash ?? null,
    roleKeys: [...(intent.roles ?? [])].sort(),
    groupKeys: (intent.groups ?? []).map((g) => g.key).sort(),
  };
  // The order of the audit record's keys (createdAuditJson follows `changes`).
  const changes: ChangeField[] = ['name'];
  if (next.email !== null) changes.push('email');
  if (next.phone !== null) changes.push('phone');
  if (next.departmentName !== null) changes.push('department');
  changes.push('active', 'ignoreMfa');
  if (next.passwordHash !== null) changes.push('password');
  if (next.roleKeys.length > 0) changes.push('roles');
  if (next.groupKeys.length > 0) changes.push('groups');
  return { kind: 'create', changes, next };
}

/**
 * The audit record of a created user as JSON — `{"name":{"old":null,"new":"Ann"},…,"password":
 * {"changed":true}}`, fields in `changes` order — written directly: one object per field only to
 * serialise it was ~1 KB of garbage per row of a first load. `names` gives the roles' and groups'
 * names as people wrote them (their keys when unknown).
 */
export function createdAuditJson(
  next: UserValues,
  changes: readonly ChangeField[],
  names: { roles(keys: readonly string[]): string[]; groups(keys: readonly string[]): string[] },
): string {
  let json = '';
  for (const field of changes) {
    const value =
      field === 'password'
        ? '{"changed":true}'
        : `{"old":null,"new":${JSON.stringify(createdValue(next, field, names))}}`;
    json += `${json === '' ? '{' : ','}"${field}":${value}`;
  }
  return `${json}}`;
}

function createdValue(
  next: UserValues,
  field: Exclude<ChangeField, 'password'>,
  names: Parameters<typeof createdAuditJson>[2],
): unknown {
  switch (field) {
    case 'department':
      return next.departmentName;
    case 'roles':
      return names.roles(next.roleKeys);
    case 'groups':
      return names.groups(next.groupKeys);
    default:
      return next[field];
  }
}
