/**
 * Who can read what usersync keeps: the SQLite database (every user's password hash, e-mail and
 * phone) and configuration files holding secrets.
 */
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { bulkStatements } from '../../src/db/bulk.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { ImportWriter } from '../../src/db/statement-writer.js';
import { startWalCheckpointer } from '../../src/db/wal-checkpointer.js';
import { createLogger } from '../../src/logging/logger.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { startDaemon } from '../helpers/daemon.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8).padStart(4, '0');
const open = (file: string): Database =>
  createDatabase({ database: { ...configSchema.parse({}).database, url: `sqlite:${file}` } }, logger);

let dir: string;
let umask: number;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-modes-'));
  umask = process.umask();
});
afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

/** One role written by the import's writer thread, on its own connection; the caller closes it. */
async function writeThroughWriterThread(db: Database, name: string): Promise<ImportWriter> {
  const writer = db.openWriter();
  if (!writer) throw new Error('SQLite files have a writer thread');
  writer.queue(
    bulkStatements('sqlite', 500, {
      table: 'roles',
      columns: ['name', 'name_key', 'created_at'],
      rows: [[name, name.toLowerCase(), '2026-01-01T00:00:00.000Z']],
    }),
  );
  await writer.commit();
  return writer;
}

describe('SQLite database files', () => {
  it('are created owner-only (folder 0700, database, -wal and -shm 0600) even under umask 000, whichever connection makes them', async () => {
    process.umask(0o000);
    const file = join(dir, 'install', 'data', 'usersync.sqlite');
    const [wal, shm] = [`${file}-wal`, `${file}-shm`];

    // The main connection creates the database and its WAL; the writer thread and the checkpointer write too.
    const db = open(file);
    await migrateToLatest(db);
    await db.checkpointInBackground();
    await (await writeThroughWriterThread(db, 'First')).close();
    expect([existsSync(wal), existsSync(shm)]).toEqual([true, true]);
    expect({
      install: mode(join(dir, 'install')),
      data: mode(join(dir, 'install', 'data')),
      db: mode(file),
      wal: mode(wal),
      shm: mode(shm),
    }).toEqual({ install: '0700', data: '0700', db: '0600', wal: '0600', shm: '0600' });
    await db.destroy();
    expect(existsSync(wal)).toBe(false); // the last connection to close removed them

    // The writer thread the first to open it: it makes the -wal and -shm files itself.
    const again = open(file);
    const writer = await writeThroughWriterThread(again, 'Second');
    expect({ wal: mode(wal), shm: mode(shm) }).toEqual({ wal: '0600', shm: '0600' });
    await writer.close();
    await again.destroy();

    // The checkpointer's thread the first to open it.
    expect(existsSync(wal)).toBe(false);
    const checkpointer = startWalCheckpointer(file, logger);
    for (let i = 0; i < 100 && !existsSync(shm); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(mode(shm)).toBe('0600');
    if (existsSync(wal)) expect(mode(wal)).toBe('0600');
    await checkpointer.stop();
  });

  it('never widen what a stricter umask allows (umask 277: folder 0500, database 0400)', async () => {
    process.umask(0o277);
    const file = join(dir, 'strict', 'usersync.sqlite');
    const db = open(file);
    await db.destroy();
    expect({ folder: mode(join(dir, 'strict')), db: mode(file) }).toEqual({ folder: '0500', db: '0400' });
  });

  it('leave an existing database where it is when the folder exists, creating only the file 0600', async () => {
    process.umask(0o022);
    mkdirSync(join(dir, 'data'), { mode: 0o750 });
    const file = join(dir, 'data', 'usersync.sqlite');
    const db = open(file);
    await migrateToLatest(db);
    await db.destroy();
    expect({ folder: mode(join(dir, 'data')), db: mode(file) }).toEqual({ folder: '0750', db: '0600' });
  });
});

describe('usersync on a fresh folder', () => {
  it('creates data/ 0700 and data/usersync.sqlite 0600, and warns about an existing one other accounts can read without changing it', async () => {
    process.umask(0o022); // the usual umask, under which SQLite alone made the file 0644
    const cwd = makeWorkdir();
    const file = join(cwd, 'data', 'usersync.sqlite');
    const migrated = await runUsersync(['migrate'], { cwd });
    expect(migrated.code).toBe(0);
    expect({ data: mode(join(cwd, 'data')), db: mode(file) }).toEqual({ data: '0700', db: '0600' });
    expect(migrated.stderr).not.toContain('readable_by_others');

    chmodSync(file, 0o644);
    const listed = await runUsersync(['roles', 'list'], { cwd });
    expect(listed.code).toBe(0);
    expect(listed.stderr).toContain('db.file_readable_by_others');
    expect(listed.stderr).toContain(`chmod 600 ${file}`);
    expect(mode(file)).toBe('0644'); // reported, not changed: the operator owns the mode
  });
});

describeEachDatabase('warnings at start', (database) => {
  it('the daemon warns about a config file with a database password that other accounts can read, never printing the password', async () => {
    process.umask(0o022);
    const secretUrl = 'mysql://app:Wh1sper-42@db.example:3306/directory';
    // USERSYNC_DATABASE_URL (the test database) wins over the file's URL; the file still holds the password.
    const daemon = await startDaemon({ databaseUrl: database().url, config: { database: { url: secretUrl } } });
    const localJson = join(daemon.cwd, 'config', 'local.json');
    try {
      expect(mode(localJson)).toBe('0644');
      const warning = daemon
        .output()
        .split('\n')
        .find((line) => line.includes('config.file_readable_by_others'));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning ?? '{}')).toMatchObject({
        level: 'warn',
        file: localJson,
        mode: '0644',
        secrets: ['database.url'],
      });
      expect(daemon.output()).not.toContain('Wh1sper-42');
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
    chmodSync(localJson, 0o600);
    const quiet = await runUsersync(['roles', 'list'], {
      cwd: daemon.cwd,
      env: { USERSYNC_DATABASE_URL: database().url },
    });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('readable_by_others');
    // A readable file without a secret is no matter.
    writeFileSync(localJson, JSON.stringify({ logs: { console: 'json' } }), { mode: 0o644 });
    chmodSync(localJson, 0o644);
    const plain = await runUsersync(['roles', 'list'], {
      cwd: daemon.cwd,
      env: { USERSYNC_DATABASE_URL: database().url },
    });
    expect(plain.stderr).not.toContain('readable_by_others');
  });
});
