/**
 * Loads the stored state of a batch's users — fields, department and membership sets — set-based
 * (never one query per row), for the in-memory diff.
 */
import type { Knex } from 'knex';
import type { StoredUser } from '../../domain/merge.js';
import { usersWithDepartment } from '../../db/repositories/users.js';
import { findCatalogKeys } from '../../db/repositories/catalog.js';
import { concatKeys, selectArrays } from '../../db/bulk.js';
import type { Dialect } from '../../db/knex.js';
import { chunk } from '../../db/time.js';
import type { CatalogCache } from './catalog-cache.js';

/** usersWithDepartment's columns, then the two id lists, in select order (rows come back as arrays). */
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
  roleIds: string | null,
  groupIds: string | null,
  feed: string | null,
  missingCount: number | string,
  deactivatedReason: string | null,
];

/**
 * One statement per chunk: each user with its department (the users repository's own select) and,
 * as newline-joined lists, the ids of its roles and groups (correlated sub-selects on the
 * membership primary keys). knex compiles it once per dialect and chunk size; the text is then
 * reused, so SQLite reuses its prepared statement too.
 *
 * Ids, not keys: joining each sub-select to roles or user_groups for the key cost MariaDB 1.22 s
 * of CPU for 100,000 stored users against 0.84 s without (200 look-ups of 500), a third of an
 * unchanged re-import's server time; the keys come from the import's catalogue (MembershipKeys).
 */
function lookUpSql(knex: Knex, dialect: Dialect, count: number): string {
  const key = `${dialect}|${count}`;
  let sql = sqlCache.get(key);
  if (sql === undefined) {
    const roleIds = knex.raw(
      `(select ${concatKeys(dialect, 'role_id')} from user_roles where user_roles.user_id = users.id) as role_ids`,
    );
    const groupIds = knex.raw(
      `(select ${concatKeys(dialect, 'group_id')} from user_group_members where user_group_members.user_id = users.id) as group_ids`,
    );
    sql = usersWithDepartment(knex)
      .select(roleIds, groupIds, 'users.feed', 'users.missing_count', 'users.deactivated_reason')
      .whereIn(
        'users.username',
        Array.from({ length: count }, () => ''),
      )
      .toSQL().sql;
    if (sqlCache.size > 16) sqlCache.clear();
    sqlCache.set(key, sql);
  }
  return sql;
}
const sqlCache = new Map<string, string>();

/** The look-up's own columns, counted from the end: they stay put whatever usersWithDepartment selects. */
const TRAILING = { roleIds: 5, groupIds: 4, feed: 3, missingCount: 2, deactivatedReason: 1 } as const;

/**
 * The keys of roles and groups by id, for the look-up's membership ids: from the import's
 * catalogue, and from the database for an id it does not hold (a role another process added
 * since the import began), asked once per batch for all such ids together. An id names one key
 * for good: roles and groups are never renamed, and their ids are never reused (AUTOINCREMENT on
 * SQLite; InnoDB keeps its counter across restarts since MariaDB 10.2.4 and MySQL 8).
 */
export class MembershipKeys {
  private readonly roles = new Map<number, string>();
  private readonly groups = new Map<number, string>();

  constructor(private readonly catalog: CatalogCache) {
    this.refresh();
  }

  /** Keys of `lists` (newline-joined ids, one list per user), in the same order. */
  async keysOf(knex: Knex, kind: 'roles' | 'groups', lists: ReadonlyArray<string | null>): Promise<string[][]> {
    const byId = kind === 'roles' ? this.roles : this.groups;
    const idLists = lists.map((list) => (list ? list.split('\n').map(Number) : []));
    const unknown = idLists.flat().filter((id) => !byId.has(id));
    if (unknown.length > 0) {
      this.refresh(); // groups this import created since
      const missing = unknown.filter((id) => !byId.has(id));
      if (missing.length > 0) for (const [id, key] of await findCatalogKeys(knex, kind, missing)) byId.set(id, key);
    }
    // Only a role or group nobody holds can be removed (`roles remove`): an id missing here lost
    // its last member after the look-up, so leaving it out matches what is stored by then.
    return idLists.map((ids) => ids.flatMap((id) => byId.get(id) ?? []));
  }

  private refresh(): void {
    for (const [key, entry] of this.catalog.roles) if (entry.id > 0) this.roles.set(entry.id, key);
    for (const [key, entry] of this.catalog.groups) if (entry.id > 0) this.groups.set(entry.id, key);
  }
}

export async function loadStoredUsers(
  knex: Knex,
  dialect: Dialect,
  usernames: readonly string[],
  maxInParams: number,
  keys: MembershipKeys,
): Promise<Map<string, StoredUser>> {
  const users = new Map<string, StoredUser>();
  for (const part of chunk(usernames, maxInParams)) {
    const rows = (await selectArrays(knex, dialect, lookUpSql(knex, dialect, part.length), part)) as Row[];
    if (rows.length === 0) continue;
    const roleKeys = await keys.keysOf(
      knex,
      'roles',
      rows.map((row) => row[row.length - TRAILING.roleIds] as string | null),
    );
    const groupKeys = await keys.keysOf(
      knex,
      'groups',
      rows.map((row) => row[row.length - TRAILING.groupIds] as string | null),
    );
    rows.forEach(
      (
        [
          id,
          username,
          name,
          email,
          phone,
          active,
          ignoreMfa,
          passwordHash,
          passwordUpdatedAt,
          createdAt /* updatedAt */,
          ,
          department,
          departmentKey,
        ],
        i,
      ) => {
        const row = rows[i] as Row;
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
          roleKeys: roleKeys[i] as string[],
          groupKeys: groupKeys[i] as string[],
          feed: row[row.length - TRAILING.feed] as string | null,
          missingCount: Number(row[row.length - TRAILING.missingCount]),
          deactivatedReason: row[row.length - TRAILING.deactivatedReason] as string | null,
        });
      },
    );
  }
  return users;
}
