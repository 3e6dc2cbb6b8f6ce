/**
 * Loads the stored state of a batch's users — fields, department and membership sets — set-based
 * (never one query per row), for the in-memory diff.
 */
import type { Knex } from 'knex';
import type { StoredUser } from '../../domain/merge.js';
import { usersWithDepartment } from '../../db/repositories/users.js';
import { concatKeys } from '../../db/bulk.js';
import type { Dialect } from '../../db/knex.js';
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
  role_keys: string | null;
  group_keys: string | null;
}

/**
 * One statement per chunk: each user with its department and, as newline-joined lists, the keys of
 * its roles and groups (correlated sub-selects on the membership primary keys).
 */
export async function loadStoredUsers(knex: Knex, dialect: Dialect, usernames: readonly string[], maxInParams: number): Promise<Map<string, StoredUser>> {
  const users = new Map<string, StoredUser>();
  const roleKeys = knex.raw(`(select ${concatKeys(dialect, 'roles.name_key')} from user_roles join roles on roles.id = user_roles.role_id where user_roles.user_id = users.id) as role_keys`);
  const groupKeys = knex.raw(
    `(select ${concatKeys(dialect, 'user_groups.name_key')} from user_group_members join user_groups on user_groups.id = user_group_members.group_id where user_group_members.user_id = users.id) as group_keys`,
  );
  const split = (keys: string | null) => (keys ? keys.split('\n') : []);
  for (const part of chunk(usernames, maxInParams)) {
    const rows = (await usersWithDepartment(knex).select(roleKeys, groupKeys).whereIn('users.username', part)) as Row[];
    for (const row of rows) {
      users.set(row.username, {
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
        roleKeys: split(row.role_keys),
        groupKeys: split(row.group_keys),
      });
    }
  }
  return users;
}
