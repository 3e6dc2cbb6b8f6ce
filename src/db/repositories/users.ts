/**
 * Reading the directory: the user shape of SPEC §3 and the batch look-up the apply stage diffs
 * against. Booleans come back as 1/0 and counts as strings on MySQL; they are mapped here, once.
 */
import type { Knex } from 'knex';
import { chunk } from '../time.js';

/** A user as `users list --json` and `users show --json` print it (SPEC §3). */
export interface UserView {
  username: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  department: string | null;
  active: boolean;
  ignoreMfa: boolean;
  roles: string[];
  groups: string[];
  hasPassword: boolean;
  passwordUpdatedAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** The feed that owns the user (SPEC §8); null for users created before feeds were recorded. */
  feed: string | null;
  /** `absent` when a mirror feed deactivated the user for being left out of its files, else null. */
  deactivatedReason: 'absent' | null;
}

export interface UserFilter {
  department?: string | undefined;
  role?: string | undefined;
  group?: string | undefined;
  active?: boolean | undefined;
}

interface UserRow {
  id: number | string;
  username: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  department: string | null;
  active: number | boolean;
  ignore_mfa: number | boolean;
  password_hash: string | null;
  password_updated_at: string | null;
  created_at: string;
  updated_at: string;
  feed: string | null;
  deactivated_reason: string | null;
}

const PAGE = 1000;

/** Every user column both readers need, with the department's display name and matching key. */
export function usersWithDepartment(knex: Knex): Knex.QueryBuilder {
  return knex('users')
    .leftJoin('departments', 'departments.id', 'users.department_id')
    .select(
      'users.id',
      'users.username',
      'users.name',
      'users.email',
      'users.phone',
      'users.active',
      'users.ignore_mfa',
      'users.password_hash',
      'users.password_updated_at',
      'users.created_at',
      'users.updated_at',
      'departments.name as department',
      'departments.name_key as department_key',
    );
}

function baseQuery(knex: Knex, filter: UserFilter): Knex.QueryBuilder {
  // Added here, not in usersWithDepartment: the apply stage reads that one's columns by position.
  const query = usersWithDepartment(knex).select('users.feed', 'users.deactivated_reason');
  if (filter.department !== undefined)
    query.where('departments.name_key', filter.department.trim().toLowerCase().replace(/\s+/g, ' '));
  if (filter.active !== undefined) query.where('users.active', filter.active);
  if (filter.role !== undefined) {
    query.whereIn(
      'users.id',
      knex('user_roles')
        .join('roles', 'roles.id', 'user_roles.role_id')
        .where('roles.name_key', filter.role.trim().toLowerCase())
        .select('user_roles.user_id'),
    );
  }
  if (filter.group !== undefined) {
    query.whereIn(
      'users.id',
      knex('user_group_members')
        .join('user_groups', 'user_groups.id', 'user_group_members.group_id')
        .where('user_groups.name_key', filter.group.trim().toLowerCase())
        .select('user_group_members.user_id'),
    );
  }
  return query;
}

async function memberships(
  knex: Knex,
  userIds: number[],
): Promise<{ roles: Map<number, string[]>; groups: Map<number, string[]> }> {
  const roles = new Map<number, string[]>();
  const groups = new Map<number, string[]>();
  for (const ids of chunk(userIds, 500)) {
    const roleRows = (await knex('user_roles')
      .join('roles', 'roles.id', 'user_roles.role_id')
      .whereIn('user_roles.user_id', ids)
      .select('user_roles.user_id', 'roles.name')
      .orderBy('roles.name_key')) as Array<{ user_id: number | string; name: string }>;
    for (const r of roleRows) push(roles, Number(r.user_id), r.name);
    const groupRows = (await knex('user_group_members')
      .join('user_groups', 'user_groups.id', 'user_group_members.group_id')
      .whereIn('user_group_members.user_id', ids)
      .select('user_group_members.user_id', 'user_groups.name')
      .orderBy('user_groups.name_key')) as Array<{ user_id: number | string; name: string }>;
    for (const g of groupRows) push(groups, Number(g.user_id), g.name);
  }
  return { roles, groups };
}

function push(map: Map<number, string[]>, key: number, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function toView(row: UserRow, roles: Map<number, string[]>, groups: Map<number, string[]>): UserView {
  const id = Number(row.id);
  return {
    username: row.username,
    name: row.name,
    email: row.email,
    phone: row.phone,
    department: row.department,
    active: Boolean(Number(row.active)),
    ignoreMfa: Boolean(Number(row.ignore_mfa)),
    roles: roles.get(id) ?? [],
    groups: groups.get(id) ?? [],
    hasPassword: row.password_hash !== null,
    passwordUpdatedAt: row.password_updated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    feed: row.feed,
    // Only `absent` is defined (migration 0004); anything else is shown as no reason rather than guessed at.
    deactivatedReason: row.deactivated_reason === 'absent' ? 'absent' : null,
  };
}

/** Every matching user, ordered by username, in pages so a million users never sit in memory. */
export async function* listUsers(knex: Knex, filter: UserFilter = {}): AsyncGenerator<UserView> {
  let after: string | null = null;
  for (;;) {
    const query = baseQuery(knex, filter).orderBy('users.username').limit(PAGE);
    if (after !== null) query.where('users.username', '>', after);
    const rows = (await query) as UserRow[];
    if (rows.length === 0) return;
    const { roles, groups } = await memberships(
      knex,
      rows.map((r) => Number(r.id)),
    );
    for (const row of rows) yield toView(row, roles, groups);
    after = rows[rows.length - 1]?.username ?? null;
    if (rows.length < PAGE) return;
  }
}

/** One user by normalised username, or undefined. */
export async function getUser(knex: Knex, username: string): Promise<UserView | undefined> {
  const row = (await baseQuery(knex, {}).where('users.username', username).first()) as UserRow | undefined;
  if (!row) return undefined;
  const { roles, groups } = await memberships(knex, [Number(row.id)]);
  return toView(row, roles, groups);
}

/**
 * Sets a user's Active flag and `updated_at`, in the caller's transaction: `changed`, `unchanged`
 * when it had that value already (nothing written), or `missing` when no user has the username.
 * One conditional update: the flag it saw is the flag it changed.
 */
export async function setUserActive(
  knex: Knex,
  username: string,
  active: boolean,
  now: string,
): Promise<'changed' | 'unchanged' | 'missing'> {
  const changed = await knex('users')
    .where('username', username)
    .where('active', Number(!active))
    .update({ active: Number(active), updated_at: now });
  if (Number(changed) > 0) return 'changed';
  return (await knex('users').where('username', username).first('id')) ? 'unchanged' : 'missing';
}
