/**
 * The roles and groups of the directory, loaded once per import (they are few) so row validation
 * is a Set look-up. Groups created during the import (import.createMissingGroups) are added.
 */
import type { Knex } from 'knex';

export interface CatalogEntryRef {
  id: number;
  name: string;
}

export interface CatalogCache {
  roles: Map<string, CatalogEntryRef>;
  groups: Map<string, CatalogEntryRef>;
}

async function load(knex: Knex, table: string): Promise<Map<string, CatalogEntryRef>> {
  const rows = (await knex(table).select('id', 'name', 'name_key')) as Array<{
    id: number | string;
    name: string;
    name_key: string;
  }>;
  return new Map(rows.map((r) => [r.name_key, { id: Number(r.id), name: r.name }]));
}

export async function loadCatalogCache(knex: Knex): Promise<CatalogCache> {
  return { roles: await load(knex, 'roles'), groups: await load(knex, 'user_groups') };
}
