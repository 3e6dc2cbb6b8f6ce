import { expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createDatabase } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { addCatalogNames } from '../../src/db/repositories/catalog.js';
import { createLogger } from '../../src/logging/logger.js';
import { loadCatalogCache } from '../../src/pipeline/apply/catalog-cache.js';
import { MembershipKeys, loadStoredUsers } from '../../src/pipeline/apply/stored-users.js';
import { describeEachDatabase } from '../helpers/databases.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });
const now = new Date().toISOString();

describeEachDatabase('stored-user look-up', (database) => {
  it('names memberships from the catalogue, asking the database once for a role added after the import began', async () => {
    const db = createDatabase({ database: { ...configSchema.parse({}).database, url: database().url } }, logger);
    try {
      await migrateToLatest(db);
      await addCatalogNames(db.knex, 'roles', ['Admin', 'Viewer']);
      await addCatalogNames(db.knex, 'groups', ['IT']);
      const catalog = await loadCatalogCache(db.knex);
      const keys = new MembershipKeys(catalog);
      // After the import loaded its catalogue: another process adds a role, the import a group.
      await addCatalogNames(db.knex, 'roles', ['Late']);
      await addCatalogNames(db.knex, 'groups', ['New']);
      const id = async (table: string, key: string) =>
        Number((await db.knex(table).where('name_key', key).first('id')).id);
      catalog.groups.set('new', { id: await id('user_groups', 'new'), name: 'New' });

      await db.knex('users').insert(['ann', 'bob'].map((username) => ({ username, created_at: now, updated_at: now })));
      const ann = Number((await db.knex('users').where('username', 'ann').first('id')).id);
      await db
        .knex('user_roles')
        .insert(
          await Promise.all(
            ['admin', 'viewer', 'late'].map(async (key) => ({ user_id: ann, role_id: await id('roles', key) })),
          ),
        );
      await db
        .knex('user_group_members')
        .insert(
          await Promise.all(
            ['it', 'new'].map(async (key) => ({ user_id: ann, group_id: await id('user_groups', key) })),
          ),
        );

      const queries: string[] = [];
      db.knex.on('query', (query: { sql: string }) => queries.push(query.sql));
      const look = () => loadStoredUsers(db.knex, db.dialect, ['ann', 'bob', 'cy'], db.maxInParams, keys);

      const first = await look();
      expect([...first.keys()].sort()).toEqual(['ann', 'bob']);
      expect([...(first.get('ann')?.roleKeys ?? [])].sort()).toEqual(['admin', 'late', 'viewer']);
      expect([...(first.get('ann')?.groupKeys ?? [])].sort()).toEqual(['it', 'new']);
      expect(first.get('bob')).toMatchObject({ roleKeys: [], groupKeys: [] });
      // The unknown role's key was read by id (the group came from the catalogue, unasked).
      const byId = queries.filter((sql) => /from [`"]?(roles|user_groups)[`"]? where [`"]?id[`"]? in/i.test(sql));
      expect(byId).toHaveLength(1);
      expect(byId[0]).toMatch(/from [`"]?roles/);

      queries.length = 0;
      const second = await look();
      expect([...(second.get('ann')?.roleKeys ?? [])].sort()).toEqual(['admin', 'late', 'viewer']);
      expect(queries.filter((sql) => /where [`"]?id[`"]? in/i.test(sql))).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
