/**
 * The import's writer thread on each database, through what apply/ uses (`db.openWriter()`):
 * values as bound, keys turned into ids, failures with the driver's code, rollback and close.
 * SQLite-only behaviour (a failed COMMIT, the values' encoding) is in sqlite-writer.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bulkStatements } from '../../src/db/bulk.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { mapDatabaseError } from '../../src/db/errors.js';
import type { ImportWriter } from '../../src/db/statement-writer.js';
import { openImportWriter } from '../../src/pipeline/apply/index.js';
import { configSchema } from '../../src/config/schema.js';
import { closeLogger, createLogger } from '../../src/logging/logger.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { fixtureDir } from '../fixtures/build.js';

describeEachDatabase('writer thread', (database) => {
  let db: Database;
  const writers: ImportWriter[] = [];
  const config = (url: string, database: Record<string, unknown> = {}) =>
    configSchema.parse({
      database: { url, ...database },
      logs: { dir: fixtureDir('usersync-writer-logs-'), console: 'off' },
    });
  const logger = createLogger(config('sqlite::memory:').logs, { consoleLevel: 'error' });

  beforeAll(async () => {
    db = createDatabase(config(database().url), logger);
    const key = (t: { string(name: string, length: number): { notNullable(): { unique(): unknown } } }) =>
      t.string('name_key', 191).notNullable().unique();
    await db.knex.schema.createTable('teams', (t) => {
      t.bigIncrements('id').primary();
      key(t);
    });
    await db.knex.schema.createTable('people', (t) => {
      t.bigIncrements('id').primary();
      t.string('username', 191).notNullable().unique();
      t.text('note').nullable();
      t.double('score').nullable();
      t.bigInteger('team_id').unsigned().nullable().references('id').inTable('teams');
    });
    await db.knex.schema.createTable('badges', (t) => {
      t.bigInteger('person_id').unsigned().notNullable().references('id').inTable('people');
      t.bigInteger('team_id').unsigned().nullable().references('id').inTable('teams');
    });
  });
  afterEach(async () => {
    for (const writer of writers.splice(0)) await writer.close();
    await db.knex('badges').delete();
    await db.knex('people').delete();
    await db.knex('teams').delete();
  });
  afterAll(async () => {
    await db.destroy();
    await closeLogger(logger);
  });

  const open = (): ImportWriter => {
    const writer = db.openWriter();
    if (writer === undefined) throw new Error('no writer thread for a file-backed store');
    writers.push(writer);
    return writer;
  };
  const statements = (
    table: string,
    columns: string[],
    rows: unknown[][],
    references?: Record<string, { table: string; key: string }>,
    conflict?: { column: string; merge: string[] },
  ) =>
    bulkStatements(db.dialect, db.maxInsertRows, {
      table,
      columns,
      rows,
      ...(references ? { references } : {}),
      ...(conflict ? { conflict } : {}),
    });
  const insertPeople = (rows: unknown[][]) => statements('people', ['username', 'note', 'score', 'team_id'], rows);
  type Person = { username: string; note: string | null; score: number | null; team: number | null };
  // MySQL hands BIGINT ids back as strings (knex.ts: bigNumberStrings).
  const people = async (): Promise<Person[]> =>
    (await db.knex('people').select('username', 'note', 'score', 'team_id as team').orderBy('id')).map((p: Person) => ({
      ...p,
      score: p.score === null ? null : Number(p.score),
      team: p.team === null ? null : Number(p.team),
    }));
  const teamId = async (key: string) => Number((await db.knex('teams').where('name_key', key).first('id')).id);

  it('writes every kind of value exactly as bound, and nothing is seen before the commit', async () => {
    const writer = open();
    const notes = [
      '',
      'plain',
      'José Ñandú',
      '日本語のテキスト',
      'emoji 😀 at the end 🎉',
      'a\u0000nul',
      'tab\there',
      'line\nbreak',
      "quote ' and ` backtick \\ backslash",
    ];
    const rows = notes.map((note, i) => [
      `user${i}`,
      note,
      [0, -1, 2 ** 31, -(2 ** 31) - 1, 1.5, -0.25, 1e15, true, 7][i],
      null,
    ]);
    writer.queue(insertPeople(rows));
    await writer.send();
    expect(await people()).toEqual([]); // still inside the writer's transaction
    await writer.commit();
    expect(await people()).toEqual(
      rows.map(([username, note, score]) => ({ username, note, score: score === true ? 1 : score, team: null })),
    );
  });

  it("turns referenced keys into their rows' ids — including rows inserted earlier in the same transaction — keeping the order, null for a key that is not there", async () => {
    await db.knex('teams').insert([{ name_key: 'red' }, { name_key: 'blue' }]);
    const writer = open();
    // A key inserted by a statement queued before (as an import creates a department, then its users).
    writer.queue(statements('teams', ['name_key'], [['green'], ['red']], undefined, { column: 'name_key', merge: [] }));
    writer.queue(
      statements(
        'people',
        ['username', 'team_id'],
        [
          ['c', 'blue'],
          ['a', 'red'],
          ['b', 'none'],
          ['d', null],
          ['e', 'green'],
        ],
        { team_id: { table: 'teams', key: 'name_key' } },
      ),
    );
    // Later message, same transaction: a person by username, as memberships refer to users just created.
    await writer.send();
    writer.queue(
      statements(
        'badges',
        ['person_id', 'team_id'],
        [
          ['e', 'green'],
          ['c', 'red'],
          ['a', null],
        ],
        { person_id: { table: 'people', key: 'username' }, team_id: { table: 'teams', key: 'name_key' } },
      ),
    );
    await writer.commit();
    const [red, blue, green] = [await teamId('red'), await teamId('blue'), await teamId('green')];
    expect((await people()).map(({ username, team }) => [username, team])).toEqual([
      ['c', blue],
      ['a', red],
      ['b', null],
      ['d', null],
      ['e', green],
    ]);
    const badges = await db
      .knex('badges')
      .join('people', 'people.id', 'badges.person_id')
      .select('people.username', 'badges.team_id as team');
    expect(
      badges
        .map((b: { username: string; team: unknown }) => [b.username, b.team === null ? null : Number(b.team)])
        .sort(),
    ).toEqual([
      ['a', null],
      ['c', red],
      ['e', green],
    ]);
  });

  it("binds the ids of rows a plain insert just created to later references, with another connection's rows around them", async () => {
    await db.knex('people').insert({ username: 'before' });
    const writer = open();
    writer.queue(
      insertPeople([
        ['n1', 'x', null, null],
        ['n2', 'y', null, null],
        ['n3', 'z', null, null],
      ]),
    );
    writer.queue(
      bulkStatements(db.dialect, db.maxInsertRows, {
        table: 'people',
        columns: ['username', 'note'],
        rows: [
          ['m1', null],
          ['m2', null],
        ],
        identifies: 'username',
      }),
    );
    writer.queue(
      statements(
        'badges',
        ['person_id', 'team_id'],
        [
          ['m2', null],
          ['m1', null],
          ['before', null],
        ],
        { person_id: { table: 'people', key: 'username' } },
      ),
    );
    await writer.send();
    // MySQL: another connection's autocommit insert while the writer's transaction is open (SQLite's writer holds the lock).
    if (database().kind === 'mysql') await db.knex('people').insert({ username: 'between' });
    writer.queue(
      bulkStatements(db.dialect, db.maxInsertRows, {
        table: 'people',
        columns: ['username', 'note'],
        rows: [
          ['k1', null],
          ['k2', null],
          ['k3', null],
        ],
        identifies: 'username',
      }),
    );
    writer.queue(
      statements(
        'badges',
        ['person_id', 'team_id'],
        [
          ['k3', null],
          ['k1', null],
          ['m1', null],
        ],
        { person_id: { table: 'people', key: 'username' } },
      ),
    );
    await writer.commit();
    const badges = (await db
      .knex('badges')
      .join('people', 'people.id', 'badges.person_id')
      .orderBy('people.username')
      .pluck('people.username')) as string[];
    expect(badges).toEqual(['before', 'k1', 'k3', 'm1', 'm1', 'm2']);
  });

  it('refuses identifies on an upsert, whose rows may not be new', () => {
    expect(() =>
      bulkStatements(db.dialect, db.maxInsertRows, {
        table: 'people',
        columns: ['username'],
        rows: [['a']],
        conflict: { column: 'username', merge: [] },
        identifies: 'username',
      }),
    ).toThrow(/identifies needs a plain insert/);
  });

  it('rolls the transaction back on a failed statement, reports the driver code at every wait until it ends, then writes again', async () => {
    const writer = open();
    const duplicate = database().kind === 'sqlite' ? 'SQLITE_CONSTRAINT_UNIQUE' : 'ER_DUP_ENTRY';
    writer.queue(insertPeople([['kept-out', null, null, null]]));
    await writer.send();
    writer.queue(
      insertPeople([
        ['dup', null, null, null],
        ['dup', null, null, null],
      ]),
    );
    writer.queue(insertPeople([['queued-after-the-failure', null, null, null]]));
    await expect(writer.send()).rejects.toMatchObject({ code: duplicate });
    writer.queue(insertPeople([['after-failure', null, null, null]]));
    await expect(writer.commit()).rejects.toMatchObject({ code: duplicate });
    expect(await people()).toEqual([]);
    writer.queue(insertPeople([['fresh', null, null, null]]));
    await writer.commit();
    expect(await people()).toEqual([{ username: 'fresh', note: null, score: null, team: null }]);
  });

  it('drops what is open on rollback and on close', async () => {
    const writer = open();
    writer.queue(insertPeople([['rolled-back', null, null, null]]));
    await writer.send();
    await writer.rollback();
    writer.queue(insertPeople([['closed-open', null, null, null]]));
    await writer.send();
    await writer.close();
    expect(await people()).toEqual([]);
    await expect(writer.send()).rejects.toThrow(/writer thread ended/);
  });

  it('is opened for every import but dry runs and import.atomic; in lean-memory mode on MySQL only, where it writes as well', async () => {
    const settings = config(database().url).import;
    const opened = (options: { dryRun: boolean; lean: boolean }, atomic = false) =>
      openImportWriter(db, { ...settings, atomic }, options);
    expect(opened({ dryRun: true, lean: false })).toBeUndefined();
    expect(opened({ dryRun: false, lean: false }, true)).toBeUndefined();
    const normal = opened({ dryRun: false, lean: false });
    expect(normal).toBeDefined();
    if (normal) writers.push(normal);
    const lean = opened({ dryRun: false, lean: true });
    if (database().kind === 'sqlite') {
      expect(lean).toBeUndefined();
      return;
    }
    if (lean === undefined) throw new Error('MySQL writes lean-memory imports on a writer thread');
    writers.push(lean);
    lean.queue(insertPeople([['lean', 'small young generation', null, null]]));
    await lean.commit();
    expect((await people()).map((p) => p.username)).toEqual(['lean']);
  });

  describe('MySQL: a connection that fails', () => {
    it('reports an unreachable server as DB_UNAVAILABLE at the first wait', async () => {
      if (database().kind !== 'mysql') return;
      const url = new URL(database().url);
      url.port = '1'; // nothing listens on loopback port 1
      const unreachable = createDatabase(config(url.toString(), { connectTimeoutMs: 2000 }), logger);
      const writer = unreachable.openWriter() as ImportWriter;
      try {
        writer.queue(insertPeople([['nobody', null, null, null]]));
        const error = await writer.send().catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'ECONNREFUSED' });
        expect(mapDatabaseError(error, unreachable.location).code).toBe('DB_UNAVAILABLE');
        // A commit of the transaction that never began fails too: nothing was written.
        writer.queue(insertPeople([['nobody-else', null, null, null]]));
        await expect(writer.commit()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      } finally {
        await writer.close();
        await unreachable.destroy();
      }
    });

    it('reports a connection killed mid-transaction as DB_UNAVAILABLE, keeps nothing of it, and connects again for the next', async () => {
      if (database().kind !== 'mysql') return;
      const writer = open();
      writer.queue(insertPeople([['before-kill', null, null, null]]));
      await writer.send();
      // The writer's connection is the one in this database with a transaction open (other test files use other databases).
      const [rows] = (await db.knex.raw(
        'select t.trx_mysql_thread_id as id from information_schema.innodb_trx t join information_schema.processlist p on p.id = t.trx_mysql_thread_id where p.db = database()',
      )) as [Array<{ id: number }>];
      expect(rows).toHaveLength(1);
      await db.knex.raw(`kill ${Number(rows[0]?.id)}`);
      writer.queue(insertPeople([['after-kill', null, null, null]]));
      const error = await writer.send().catch((e: unknown) => e);
      expect(mapDatabaseError(error, db.location).code).toBe('DB_UNAVAILABLE');
      await writer.rollback();
      expect(await people()).toEqual([]);
      writer.queue(insertPeople([['reconnected', null, null, null]]));
      await writer.commit();
      expect((await people()).map((p) => p.username)).toEqual(['reconnected']);
    });
  });
});
