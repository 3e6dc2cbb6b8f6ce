/**
 * The users as a target receives them (SPEC §12): the attributes that are sent, and their roles
 * and groups by key and name — never the password hash. Read by username, a page at a time.
 */
import type { Knex } from 'knex';
import { chunk } from '../time.js';

export interface Membership {
  kind: 'role' | 'group';
  key: string;
  name: string;
}

export interface DirectoryUser {
  username: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  active: boolean;
  memberships: Membership[];
}

export async function directoryUsers(knex: Knex, usernames: readonly string[]): Promise<Map<string, DirectoryUser>> {
  const users = new Map<string, DirectoryUser>();
  for (const part of chunk(usernames, 500)) {
    const rows = (await knex('users')
      .whereIn('username', part)
      .select('id', 'username', 'name', 'email', 'phone', 'active')) as Array<{
      id: number | string;
      username: string;
      name: string | null;
      email: string | null;
      phone: string | null;
      active: number | boolean;
    }>;
    const byId = new Map<number, DirectoryUser>();
    for (const row of rows) {
      const user: DirectoryUser = {
        username: row.username,
        name: row.name,
        email: row.email,
        phone: row.phone,
        active: Boolean(Number(row.active)),
        memberships: [],
      };
      users.set(row.username, user);
      byId.set(Number(row.id), user);
    }
    if (byId.size > 0) await addMemberships(knex, byId);
  }
  return users;
}

async function addMemberships(knex: Knex, byId: Map<number, DirectoryUser>): Promise<void> {
  const ids = [...byId.keys()];
  const lists = [
    { kind: 'role' as const, members: 'user_roles', catalog: 'roles', column: 'role_id' },
    { kind: 'group' as const, members: 'user_group_members', catalog: 'user_groups', column: 'group_id' },
  ];
  for (const { kind, members, catalog, column } of lists) {
    const rows = (await knex(members)
      .join(catalog, `${catalog}.id`, `${members}.${column}`)
      .whereIn(`${members}.user_id`, ids)
      .select(`${members}.user_id`, `${catalog}.name_key`, `${catalog}.name`)) as Array<{
      user_id: number | string;
      name_key: string;
      name: string;
    }>;
    for (const row of rows)
      byId.get(Number(row.user_id))?.memberships.push({ kind, key: row.name_key, name: row.name });
  }
  // Code-point order, as snapshots and the target's groups (targets/sync.ts) are sorted.
  for (const user of byId.values())
    user.memberships.sort((a, b) =>
      membershipId(a) < membershipId(b) ? -1 : membershipId(a) > membershipId(b) ? 1 : 0,
    );
}

/** A role or group as one string, `role:<key>` / `group:<key>`: how snapshots list memberships. */
export const membershipId = (m: Pick<Membership, 'kind' | 'key'>): string => `${m.kind}:${m.key}`;
