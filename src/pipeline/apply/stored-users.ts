/**
 * Loads the stored state of a batch's users — fields, department and membership sets — in a few
 * set-based queries (never one per row), for the in-memory diff.
 */
import type { Knex } from 'knex';
import type { StoredUser } from '../../domain/merge.js';
import { usersWithDepartment } from '../../db/repositories/users.js';
import { chunk } from '../../db/time.js';

interface Row {
  id: number | string;
  username: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  active: number | boolean;
  ignore_mfa: number | boolean;
  password_hash: string | null;
  password_updated_at: string | null;
  created_at: string;
  department_key: string | null;
  department: string | null;
}

export async function loadStoredUsers(knex: Knex, usernames: readonly string[], maxInParams: number): Promise<Map<string, StoredUser>> {
  const users = new Map<string, StoredUser>();
  const byId = new Map<number, StoredUser>();
  for (const part of chunk(usernames, maxInParams)) {
    const rows = (await usersWithDepartment(knex).whereIn('users.username', part)) as Row[];
    for (const row of rows) {
      const user: StoredUser = {
        id: Number(row.id),
        username: row.username,
        name: row.name,
        email: row.email,
        phone: row.phone,
        departmentKey: row.department_key,
        departmentName: row.department,
        active: Boolean(Number(row.active)),
        ignoreMfa: Boolean(Number(row.ignore_mfa)),
        passwordHash: row.password_hash,
        passwordUpdatedAt: row.password_updated_at,
        createdAt: row.created_at,
        roleKeys: [],
        groupKeys: [],
      };
      users.set(user.username, user);
      byId.set(user.id, user);
    }
  }
  const ids = [...byId.keys()];
  for (const part of chunk(ids, maxInParams)) {
    const roles = (await knex('user_roles').join('roles', 'roles.id', 'user_roles.role_id').whereIn('user_roles.user_id', part).select('user_roles.user_id', 'roles.name_key')) as Array<{ user_id: number | string; name_key: string }>;
    for (const r of roles) byId.get(Number(r.user_id))?.roleKeys.push(r.name_key);
    const groups = (await knex('user_group_members').join('user_groups', 'user_groups.id', 'user_group_members.group_id').whereIn('user_group_members.user_id', part).select('user_group_members.user_id', 'user_groups.name_key')) as Array<{ user_id: number | string; name_key: string }>;
    for (const g of groups) byId.get(Number(g.user_id))?.groupKeys.push(g.name_key);
  }
  return users;
}
