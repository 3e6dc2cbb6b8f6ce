/**
 * Loads the stored state of a batch's users — fields, department and membership sets — set-based
 * (never one query per row), for the in-memory diff.
 */
import type { Knex } from 'knex';
import type { StoredUser } from '../../domain/merge.js';
import { usersWithDepartment } from '../../db/repositories/users.js';
import { concatKeys, selectArrays } from '../../db/bulk.js';
import type { Dialect } from '../../db/knex.js';
import { chunk } from '../../db/time.js';

/** usersWithDepartment's columns, then the two key lists, in select order (rows come back as arrays). */
type Row = [
  id: number | string,
  username: string,
  name: string | null,
  email: string | null,
  phone: string | null,
  active: number | boolean,
  ignoreMfa: number | boolean,
  passwordHash: string | null,
  passwordUpdatedAt: string | null,
  createdAt: string,
  updatedAt: string,
  department: string | null,
  departmentKey: string | null,
  roleKeys: string | null,
  groupKeys: string | null,
];

/**
 * One statement per chunk: each user with its department (the users repository's own select) and,
 * as newline-joined lists, the keys of its roles and groups (correlated sub-selects on the
 * membership primary keys). knex compiles it once per dialect and chunk size; the text is then
 * reused, so SQLite reuses its prepared statement too.
 */
function lookUpSql(knex: Knex, dialect: Dialect, count: number): string {
  const key = `${dialect}|${count}`;
  let sql = sqlCache.get(key);
  if (sql === undefined) {
    const roleKeys = knex.raw(`(select ${concatKeys(dialect, 'roles.name_key')} from user_roles join roles on roles.id = user_roles.role_id where user_roles.user_id = users.id) as role_keys`);
    const groupKeys = knex.raw(
      `(select ${concatKeys(dialect, 'user_groups.name_key')} from user_group_members join user_groups on user_groups.id = user_group_members.group_id where user_group_members.user_id = users.id) as group_keys`,
    );
    sql = usersWithDepartment(knex).select(roleKeys, groupKeys).whereIn('users.username', Array.from({ length: count }, () => '')).toSQL().sql;
    if (sqlCache.size > 16) sqlCache.clear();
    sqlCache.set(key, sql);
  }
  return sql;
}
const sqlCache = new Map<string, string>();

export async function loadStoredUsers(knex: Knex, dialect: Dialect, usernames: readonly string[], maxInParams: number): Promise<Map<string, StoredUser>> {
  const users = new Map<string, StoredUser>();
  const split = (keys: string | null) => (keys ? keys.split('\n') : []);
  for (const part of chunk(usernames, maxInParams)) {
    const rows = (await selectArrays(knex, dialect, lookUpSql(knex, dialect, part.length), part)) as Row[];
    for (const [id, username, name, email, phone, active, ignoreMfa, passwordHash, passwordUpdatedAt, createdAt, /* updatedAt */ , department, departmentKey, roleKeys, groupKeys] of rows) {
      users.set(username, {
        id: Number(id),
        username,
        name,
        email,
        phone,
        departmentKey,
        departmentName: department,
        active: Boolean(Number(active)),
        ignoreMfa: Boolean(Number(ignoreMfa)),
        passwordHash,
        passwordUpdatedAt,
        createdAt,
        roleKeys: split(roleKeys),
        groupKeys: split(groupKeys),
      });
    }
  }
  return users;
}
