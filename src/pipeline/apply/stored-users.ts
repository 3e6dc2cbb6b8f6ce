/**
 * Loads the stored state of a batch's users — fields, department and membership sets — set-based
 * (never one query per row), for the in-memory diff.
 */
import type { Knex } from 'knex';
import type { StoredUser } from '../../domain/merge.js';
import { concatKeys, selectArrays } from '../../db/bulk.js';
import type { Dialect } from '../../db/knex.js';
import { chunk } from '../../db/time.js';

/** The select's columns, in order (rows come back as arrays). */
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
  departmentKey: string | null,
  department: string | null,
  roleKeys: string | null,
  groupKeys: string | null,
];

/**
 * One statement per chunk: each user with its department and, as newline-joined lists, the keys of
 * its roles and groups (correlated sub-selects on the membership primary keys). The SQL depends
 * only on the dialect and the chunk's size, so SQLite reuses its prepared statement.
 */
function lookUpSql(dialect: Dialect, count: number): string {
  const key = `${dialect}|${count}`;
  let sql = sqlCache.get(key);
  if (sql === undefined) {
    sql =
      'select u.id, u.username, u.name, u.email, u.phone, u.active, u.ignore_mfa, u.password_hash, u.password_updated_at, u.created_at, d.name_key, d.name, ' +
      `(select ${concatKeys(dialect, 'r.name_key')} from user_roles ur join roles r on r.id = ur.role_id where ur.user_id = u.id), ` +
      `(select ${concatKeys(dialect, 'g.name_key')} from user_group_members m join user_groups g on g.id = m.group_id where m.user_id = u.id) ` +
      `from users u left join departments d on d.id = u.department_id where u.username in (${Array.from({ length: count }, () => '?').join(',')})`;
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
    const rows = (await selectArrays(knex, dialect, lookUpSql(dialect, part.length), part)) as Row[];
    for (const [id, username, name, email, phone, active, ignoreMfa, passwordHash, passwordUpdatedAt, createdAt, departmentKey, department, roleKeys, groupKeys] of rows) {
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
