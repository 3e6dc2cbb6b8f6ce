import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { createLogger } from '../../src/logging/logger.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-wal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (file: string): Database =>
  createDatabase({ database: { ...configSchema.parse({}).database, url: `sqlite:${file}` } }, logger);

/** ~3 MB in one transaction: below SQLite's own auto-checkpoint (1,000 pages), so only a checkpointer moves it. */
async function writeThreeMegabytes(db: Database): Promise<void> {
  await db.knex.schema.createTable('filler', (t) => {
    t.increments('id');
    t.text('body');
  });
  const body = 'x'.repeat(1000);
  await db.knex.transaction(async (trx) => {
    for (let i = 0; i < 6; i++)
      await trx.batchInsert(
        'filler',
        Array.from({ length: 500 }, () => ({ body })),
        250,
      );
  });
}

async function fileSizeAfter(file: string, ms: number, atLeast: number): Promise<number> {
  const until = Date.now() + ms;
  while (statSync(file).size < atLeast && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  return statSync(file).size;
}

describe('WAL checkpoints in the background (SQLite)', () => {
  it('folds committed pages into the database from another thread, which the connection alone does not', async () => {
    for (const background of [false, true]) {
      const file = join(dir, `${background}.sqlite`);
      const db = open(file);
      try {
        await db.knex.raw('select 1'); // connects: the file exists, in WAL mode
        if (background) await db.checkpointInBackground();
        await writeThreeMegabytes(db);
        const size = await fileSizeAfter(file, background ? 5000 : 600, 3_000_000);
        if (background) expect(size).toBeGreaterThanOrEqual(3_000_000);
        else expect(size).toBeLessThan(100_000);
      } finally {
        await db.destroy();
      }
    }
  });

  it('outlasts another connection holding the whole file for a while', async () => {
    const file = join(dir, 'held.sqlite');
    const db = open(file);
    try {
      await db.knex.raw('select 1');
      await db.checkpointInBackground();
      // An exclusive lock: the checkpointer's looks meet SQLITE_BUSY for a few ticks.
      const holder = open(file);
      await holder.knex.raw('PRAGMA locking_mode = EXCLUSIVE');
      await holder.knex.raw('BEGIN EXCLUSIVE');
      await new Promise((resolve) => setTimeout(resolve, 500));
      await holder.knex.raw('COMMIT');
      await holder.destroy();
      await writeThreeMegabytes(db);
      expect(await fileSizeAfter(file, 5000, 3_000_000)).toBeGreaterThanOrEqual(3_000_000);
    } finally {
      await db.destroy();
    }
  });

  it('stops with the database: the WAL is folded in and removed, every row kept', async () => {
    const file = join(dir, 'stop.sqlite');
    const db = open(file);
    await db.knex.raw('select 1');
    await db.checkpointInBackground();
    await db.checkpointInBackground(); // once is enough
    await writeThreeMegabytes(db);
    await db.destroy();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const again = open(file);
    try {
      expect(Number((await again.knex('filler').count({ n: '*' }))[0]?.n)).toBe(3000);
    } finally {
      await again.destroy();
    }
  });
});
