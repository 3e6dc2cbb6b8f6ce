import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bulkInsert } from '../../src/db/bulk.js';
import { createDatabase } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrationNames } from '../../src/db/migrations/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { normaliseUsername } from '../../src/domain/username.js';
import { describeEachDatabase } from '../helpers/databases.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });
const now = new Date().toISOString();

describeEachDatabase('storage', (database) => {
  const open = () => createDatabase({ database: { ...configSchema.parse({}).database, url: database().url } }, logger);

  it('creates every table from an empty database, and a second run applies nothing', async () => {
    const db = open();
    try {
      expect((await migrateToLatest(db)).applied).toEqual(migrationNames());
      expect((await migrateToLatest(db)).applied).toEqual([]);
      for (const table of [
        'users',
        'departments',
        'roles',
        'user_groups',
        'user_roles',
        'user_group_members',
        'imports',
        'audit_events',
      ]) {
        expect(await db.knex.schema.hasTable(table)).toBe(true);
      }
      for (const column of [
        'password_hash',
        'password_updated_at',
        'created_at',
        'updated_at',
        'department_id',
        'ignore_mfa',
      ]) {
        expect(await db.knex.schema.hasColumn('users', column)).toBe(true);
      }
    } finally {
      await db.destroy();
    }
  });

  it('bulkInsert upserts in statements of at most maxRows rows, and on SQLite returns the rows it wrote', async () => {
    const db = open();
    try {
      await migrateToLatest(db);
      const insert = (rows: string[][], returning?: string[]) =>
        bulkInsert(db.knex, db.dialect, 2, {
          table: 'users',
          columns: ['username', 'name', 'created_at', 'updated_at'],
          rows: rows.map(([u, n]) => [u, n, now, now]),
          conflict: { column: 'username', merge: ['name'] },
          ...(returning ? { returning } : {}),
        });
      expect(
        await insert([
          ['ann', 'Ann'],
          ['bob', 'Bob'],
          ['cy', 'Cy'],
        ]),
      ).toEqual([]);
      const ids = new Map(
        ((await db.knex('users').select('id', 'username')) as Array<{ id: number; username: string }>).map((r) => [
          r.username,
          Number(r.id),
        ]),
      );
      if (db.dialect === 'sqlite') {
        // An update (bob) and two inserts (dee, eve), over two statements: every row written comes back.
        const written = await insert(
          [
            ['bob', 'Robert'],
            ['dee', 'Dee'],
            ['eve', 'Eve'],
          ],
          ['id', 'username'],
        );
        const after = new Map(
          ((await db.knex('users').select('id', 'username')) as Array<{ id: number; username: string }>).map((r) => [
            r.username,
            Number(r.id),
          ]),
        );
        expect(new Map(written.map(([id, username]) => [username, Number(id)]))).toEqual(
          new Map(['bob', 'dee', 'eve'].map((u) => [u, after.get(u)])),
        );
        expect(after.get('bob')).toBe(ids.get('bob'));
      } else {
        await expect(insert([['dee', 'Dee']], ['id'])).rejects.toThrow(/SQLite only/);
        await insert([
          ['bob', 'Robert'],
          ['dee', 'Dee'],
        ]);
      }
      expect(await db.knex('users').where('username', 'bob').first('name')).toEqual({ name: 'Robert' });
      expect(Number(((await db.knex('users').count({ n: '*' }).first()) as { n: number | string }).n)).toBe(
        db.dialect === 'sqlite' ? 5 : 4,
      );
      await db.knex('users').delete(); // the file's later tests share this database
    } finally {
      await db.destroy();
    }
  });

  it('keeps few prepared statements per MySQL connection however many row counts the batches have', async () => {
    if (database().kind !== 'mysql') return; // SQLite's statements live in this process (knex.ts caches 64)
    const db = open();
    try {
      await migrateToLatest(db);
      await db.knex.transaction(async (trx) => {
        // Counted on the transaction's own connection: the server-wide Prepared_stmt_count also
        // moves with the other test files that share this MariaDB, which made the test flaky.
        const counter = async (name: string) =>
          Number(((await trx.raw(`SHOW SESSION STATUS LIKE '${name}'`)) as [Array<{ Value: string }>])[0][0]?.Value);
        const [preparedBefore, closedBefore] = [await counter('Com_stmt_prepare'), await counter('Com_stmt_close')];
        // 40 inserts of 1..40 rows: 40 statement texts, on the transaction's one connection.
        for (let count = 1; count <= 40; count++) {
          await bulkInsert(trx, db.dialect, 1000, {
            table: 'departments',
            columns: ['name', 'name_key', 'created_at'],
            rows: Array.from({ length: count }, (_, i) => [`D${count}.${i}`, `d${count}.${i}`, now]),
          });
        }
        const [prepared, closed] = [
          (await counter('Com_stmt_prepare')) - preparedBefore,
          (await counter('Com_stmt_close')) - closedBefore,
        ];
        expect(prepared).toBeGreaterThanOrEqual(40); // they are prepared statements
        expect(prepared - closed).toBeLessThanOrEqual(32); // and the oldest are closed again
      });
      expect(Number(((await db.knex('departments').count({ n: '*' }).first()) as { n: number | string }).n)).toBe(
        (40 * 41) / 2,
      );
      await db.knex('departments').delete();
    } finally {
      await db.destroy();
    }
  });

  it('keeps José, jose and "jose " distinct and finds each only by its exact normalised form', async () => {
    const db = open();
    try {
      await migrateToLatest(db);
      const row = (username: string) => ({ username, created_at: now, updated_at: now });
      // JOSE normalises to jose; José (NFC and NFD) normalises to josé.
      expect(normaliseUsername('JOSE')).toBe('jose');
      expect(normaliseUsername('Jose\u0301')).toBe(normaliseUsername('José'));
      await db.knex('users').insert([row('jose'), row(normaliseUsername('José'))]);
      // A trailing space would collide under a PAD SPACE collation (utf8mb4_bin); NO PAD keeps it apart.
      await db.knex('users').insert(row('jose '));
      const all = (await db.knex('users').select('username').orderBy('id')) as Array<{ username: string }>;
      expect(all.map((r) => r.username)).toEqual(['jose', 'josé', 'jose ']);
      expect(await db.knex('users').where('username', 'jose').select('username')).toEqual([{ username: 'jose' }]);
      expect(await db.knex('users').where('username', 'josé').select('username')).toEqual([{ username: 'josé' }]);
      expect(await db.knex('users').where('username', 'JOSE').select('username')).toEqual([]);
      // The unique index is binary too: inserting the same normalised name again fails.
      await expect(db.knex('users').insert(row('jose'))).rejects.toThrow();
    } finally {
      await db.destroy();
    }
  });

  it('refuses a user whose department does not exist (foreign keys are on)', async () => {
    const db = open();
    try {
      await migrateToLatest(db);
      await expect(
        db.knex('users').insert({ username: 'fk-check', department_id: 987654, created_at: now, updated_at: now }),
      ).rejects.toThrow();
    } finally {
      await db.destroy();
    }
  });
});

describe('storage [sqlite] dialect options', () => {
  it('runs SQLite in WAL mode with foreign keys and a busy timeout', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/usersync-wal-`);
    const db = createDatabase(
      { database: { ...configSchema.parse({}).database, url: `sqlite:${dir}/x.sqlite`, busyTimeoutMs: 1234 } },
      logger,
    );
    try {
      const pragma = async (name: string) =>
        Object.values(((await db.knex.raw(`PRAGMA ${name}`)) as Array<Record<string, unknown>>)[0] ?? {})[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('busy_timeout')).toBe(1234);
    } finally {
      await db.destroy();
    }
  });
});
