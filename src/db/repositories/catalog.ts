/**
 * Roles, user groups and departments: named things matched by `name_key` (case- and
 * space-insensitive). Adding an existing name, in any case, creates nothing.
 */
import type { Knex } from 'knex';
import { catalogKey, cleanCatalogName, MAX_NAME_LENGTH } from '../../domain/catalog-name.js';
import { forbiddenCharacter, printable, textLength } from '../../domain/text-rules.js';
import { fail } from '../../errors.js';
import { chunk, isoNow, type Clock } from '../time.js';

export type CatalogKind = 'roles' | 'groups' | 'departments';

const TABLE: Record<CatalogKind, string> = { roles: 'roles', groups: 'user_groups', departments: 'departments' };
/** The membership table and its column for the kinds users can hold several of. */
const MEMBERSHIP: Partial<Record<CatalogKind, { table: string; column: string }>> = {
  roles: { table: 'user_roles', column: 'role_id' },
  groups: { table: 'user_group_members', column: 'group_id' },
};

export interface CatalogEntry {
  id: number;
  name: string;
  key: string;
  createdAt: string;
  /** Users holding it (roles, groups) or in it (departments). */
  users: number;
}

export interface AddResult {
  created: string[];
  existing: string[];
}

/** Lists a catalogue with the number of users holding each entry, by name. */
export async function listCatalog(knex: Knex, kind: CatalogKind): Promise<CatalogEntry[]> {
  const table = TABLE[kind];
  const membership = MEMBERSHIP[kind];
  const counts = membership
    ? knex(membership.table).select(`${membership.column} as ref`).count({ n: '*' }).groupBy(membership.column)
    : knex('users')
        .select('department_id as ref')
        .count({ n: '*' })
        .whereNotNull('department_id')
        .groupBy('department_id');
  const rows = (await knex(table)
    .leftJoin(counts.as('c'), 'c.ref', `${table}.id`)
    .select(`${table}.id`, `${table}.name`, `${table}.name_key`, `${table}.created_at`, 'c.n')
    .orderBy(`${table}.name_key`)) as Array<{
    id: number | string;
    name: string;
    name_key: string;
    created_at: string;
    n: number | string | null;
  }>;
  return rows.map((row) => ({
    id: Number(row.id),
    name: row.name,
    key: row.name_key,
    createdAt: row.created_at,
    users: Number(row.n ?? 0),
  }));
}

/** Reads entries by key: Map<name_key, id>. */
export async function findCatalogIds(
  knex: Knex,
  kind: CatalogKind,
  keys: readonly string[],
): Promise<Map<string, number>> {
  return new Map((await catalogRows(knex, kind, 'name_key', keys)).map((row) => [row.name_key, Number(row.id)]));
}

/** Reads entries by id: Map<id, name_key> (ids that no longer exist are left out). */
export async function findCatalogKeys(
  knex: Knex,
  kind: CatalogKind,
  ids: readonly number[],
): Promise<Map<number, string>> {
  return new Map((await catalogRows(knex, kind, 'id', ids)).map((row) => [Number(row.id), row.name_key]));
}

/** The id and key of every entry whose `column` is one of `values`, 500 values to a statement. */
async function catalogRows<T extends string | number>(
  knex: Knex,
  kind: CatalogKind,
  column: 'id' | 'name_key',
  values: readonly T[],
): Promise<Array<{ id: number | string; name_key: string }>> {
  const rows: Array<{ id: number | string; name_key: string }> = [];
  for (const part of chunk([...new Set(values)], 500))
    rows.push(...((await knex(TABLE[kind]).select('id', 'name_key').whereIn(column, part)) as typeof rows));
  return rows;
}

/**
 * Adds names that do not exist yet (compared by key). Returns which were created and which
 * already existed. Runs inside the caller's transaction when given one.
 */
export async function addCatalogNames(
  knex: Knex,
  kind: CatalogKind,
  names: readonly string[],
  clock?: Clock,
): Promise<AddResult> {
  const wanted = new Map<string, string>();
  for (const raw of names) {
    const name = cleanCatalogName(raw);
    const bad = forbiddenCharacter(name);
    if (!name || textLength(catalogKey(name)) > MAX_NAME_LENGTH || bad) {
      const why = bad ? `it contains the control character ${bad}` : `use 1–${MAX_NAME_LENGTH} characters`;
      throw fail('CATALOG_INVALID_NAME', {
        message: `"${printable(raw.slice(0, 40))}" is not a valid ${kind.replace(/s$/, '')} name: ${why}.`,
      });
    }
    if (!wanted.has(catalogKey(name))) wanted.set(catalogKey(name), name);
  }
  const existing = await findCatalogIds(knex, kind, [...wanted.keys()]);
  const now = isoNow(clock);
  const toCreate = [...wanted].filter(([key]) => !existing.has(key));
  for (const part of chunk(toCreate, 500)) {
    await knex(TABLE[kind]).insert(part.map(([key, name]) => ({ name, name_key: key, created_at: now })));
  }
  return {
    created: toCreate.map(([, name]) => name),
    existing: [...wanted].filter(([key]) => existing.has(key)).map(([, name]) => name),
  };
}

export interface RemoveResult {
  removed: string[];
  missing: string[];
}

/**
 * Removes roles or groups. Refuses (CATALOG_IN_USE, nothing removed) when any named entry is
 * still held by users, saying how many hold each.
 */
export async function removeCatalogNames(
  knex: Knex,
  kind: 'roles' | 'groups',
  names: readonly string[],
): Promise<RemoveResult> {
  const membership = MEMBERSHIP[kind] as { table: string; column: string };
  return knex.transaction(async (trx) => {
    const keys = [...new Set(names.map(catalogKey))];
    const found = await findCatalogIds(trx, kind, keys);
    const ids = [...found.values()];
    if (ids.length > 0) {
      const held = (await trx(membership.table)
        .join(TABLE[kind], `${TABLE[kind]}.id`, `${membership.table}.${membership.column}`)
        .select(`${TABLE[kind]}.name`)
        .count({ n: '*' })
        .whereIn(membership.column, ids)
        .groupBy(`${TABLE[kind]}.name`)) as Array<{ name: string; n: number | string }>;
      if (held.length > 0) {
        const list = held
          .map((h) => `"${h.name}" is held by ${Number(h.n)} user${Number(h.n) === 1 ? '' : 's'}`)
          .join('; ');
        throw fail('CATALOG_IN_USE', { message: `Nothing was removed: ${list}.`, details: { held } });
      }
      await trx(TABLE[kind]).whereIn('id', ids).delete();
    }
    return {
      removed: names.filter((name) => found.has(catalogKey(name))),
      missing: names.filter((name) => !found.has(catalogKey(name))),
    };
  });
}
