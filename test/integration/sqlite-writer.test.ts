import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bulkStatements } from '../../src/db/bulk.js';
import { SqliteWriter } from '../../src/db/sqlite-writer.js';
import { encodeStatements, type ImportWriter } from '../../src/db/statement-writer.js';
import { SQLITE_BATCHES_IN_FLIGHT } from '../../src/db/knex.js';
import { QueuedTransaction } from '../../src/pipeline/apply/queued-transaction.js';

/** The driver itself (it ships no types): a reader's connection beside the writer's. */
interface Connection {
  prepare(sql: string): { all(): unknown[] };
  pragma(sql: string): unknown;
  exec(sql: string): void;
  close(): void;
}
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => Connection;

let dir: string;
let file: string;
let reader: Connection;
const writers: SqliteWriter[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-writer-'));
  file = join(dir, 'store.sqlite');
  reader = new BetterSqlite3(file);
  reader.pragma('journal_mode = WAL');
  reader.exec(`
    create table teams (id integer primary key, name_key text not null unique);
    create table people (id integer primary key, username text not null unique, note text, score real, team_id integer references teams(id));
    create table badges (person text not null, team_id integer not null references teams(id) deferrable initially deferred);
    insert into teams (name_key) values ('red'), ('blue');
  `);
});
afterEach(async () => {
  for (const writer of writers.splice(0)) await writer.close();
  reader.close();
  await rm(dir, { recursive: true, force: true });
});

const open = (): SqliteWriter => {
  const writer = new SqliteWriter(file, { busyTimeoutMs: 2000, autoCheckpointPages: 10_000 });
  writers.push(writer);
  return writer;
};
const people = () => reader.prepare('select username, note, score, team_id as team from people order by id').all();
const insertPeople = (rows: unknown[][]) =>
  bulkStatements('sqlite', 500, { table: 'people', columns: ['username', 'note', 'score', 'team_id'], rows });

// Values, references, failures, rollback and close on both databases: writer-thread.test.ts.
describe('SQLite writer thread', () => {
  it('sends a text repeated from the row above once, and writes it on every row', async () => {
    const writer = open();
    const now = '2026-11-25T15:00:00.000Z';
    const rows = [
      ['r1', now, 1, null],
      ['r2', now, 1, null],
      ['r3', 'other', 2, null],
      ['r4', 'other', 3, null],
    ];
    const statements = insertPeople(rows);
    const encoded = encodeStatements(statements);
    expect([...encoded.kinds.filter((_, i) => i % 4 === 1)]).toEqual([2, 4, 2, 4]);
    expect(encoded.text).toBe(`r1${now}r2r3otherr4`);
    writer.queue(statements);
    await writer.commit();
    expect(people()).toEqual(rows.map(([username, note, score]) => ({ username, note, score, team: null })));
  });

  it('refuses a value it cannot send, naming the statement', () => {
    expect(() =>
      encodeStatements([{ sql: 'insert into people (note) values (?)', rows: [[{ an: 'object' }]] }]),
    ).toThrow(/cannot send a object value \(insert into people/);
  });
});

describe('QueuedTransaction', () => {
  it('hands on each transaction once committed, and nothing of one whose statement failed — the failure surfacing at the next write', async () => {
    const writer = open();
    const committed: string[][] = [];
    const group = new QueuedTransaction<string>(writer, 2, (outcomes) => void committed.push([...outcomes]));
    const batch = (username: string) => async (w: ImportWriter) => {
      w.queue(insertPeople([[username, null, null, null]]));
      return username;
    };
    await group.write(1, batch('a'));
    await group.write(1, batch('b')); // second row: sends a commit, without waiting for it
    await group.commit(); // nothing more open: waits for that commit to hand on
    expect(committed).toEqual([['a', 'b']]);
    // A transaction of more rows than the writes below, so no commit carries the failure first.
    const larger = new QueuedTransaction<string>(
      writer,
      10,
      (outcomes) => void committed.push([...outcomes]),
      SQLITE_BATCHES_IN_FLIGHT,
    );
    await larger.write(1, batch('a')); // a duplicate: fails on the thread, unseen yet
    // The writes after it that it does not wait for yet; the thread skips their statements.
    for (let i = 1; i < SQLITE_BATCHES_IN_FLIGHT; i++) await larger.write(1, batch(`c${i}`));
    await expect(larger.write(1, batch('c'))).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    await larger.commit();
    expect(committed).toEqual([['a', 'b']]);
    await larger.write(1, batch('d'));
    await larger.commit();
    expect(committed).toEqual([['a', 'b'], ['d']]);
    expect(people().map((p) => (p as { username: string }).username)).toEqual(['a', 'b', 'd']);
  });

  it('hands on nothing of a transaction whose commit failed, and fails the write after it', async () => {
    const writer = open();
    const committed: string[][] = [];
    const group = new QueuedTransaction<string>(writer, 1, (outcomes) => void committed.push([...outcomes]));
    await group.write(1, async (w) => {
      w.queue(insertPeople([['ok', null, null, null]]));
      return 'ok';
    });
    // A deferred foreign key: the statement runs, the COMMIT fails.
    await group.write(1, async (w) => {
      w.queue([{ sql: 'insert into badges (person, team_id) values (?, ?)', rows: [['ok', 99]] }]);
      return 'bad';
    });
    await expect(
      group.write(1, async (w) => {
        w.queue(insertPeople([['after', null, null, null]]));
        return 'after';
      }),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
    await expect(group.commit()).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' });
    expect(committed).toEqual([['ok']]);
    expect(people().map((p) => (p as { username: string }).username)).toEqual(['ok']);
  });
});
