/**
 * Where a mirror feed's deactivations show outside the reports (SPEC §8): the register's
 * `deactivated` count (imports list / show) and a user's `feed` and `deactivatedReason` (users
 * list / show). The columns are set directly here: the mirror logic that sets them is tested with it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { createDatabase, type Database } from '../../src/db/knex.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { closeImport, getImport, listImports, openImport } from '../../src/db/repositories/imports.js';
import { createLogger } from '../../src/logging/logger.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';

const logger = createLogger(configSchema.parse({}).logs, { files: false, consoleLevel: 'error' });
const now = new Date().toISOString();

const opened = (originalName: string, dryRun = false) => ({
  originalName,
  sha256: 'c'.repeat(64),
  bytes: 10,
  source: 'cli' as const,
  host: 'test-host',
  actor: 'tester',
  feed: 'workday',
  dryRun,
  filePath: `/tmp/${originalName}`,
  startedAt: now,
});

describeEachDatabase('deactivations in the register and the directory', (database) => {
  let db: Database;
  let cwd: string;
  const usersync = (...args: string[]) => runUsersync(args, { cwd, env: { USERSYNC_DATABASE_URL: database().url } });
  let mirrorId: number;
  let deltaId: number;

  beforeAll(async () => {
    cwd = makeWorkdir();
    db = createDatabase({ database: { ...configSchema.parse({}).database, url: database().url } }, logger);
    await migrateToLatest(db);
    mirrorId = await openImport(db.knex, opened('workday-2026-12.xlsx'));
    await closeImport(db.knex, mirrorId, {
      status: 'imported',
      finishedAt: now,
      counts: { rows: 40, created: 1, updated: 2, unchanged: 37, failed: 0, deactivated: 3 },
    });
    deltaId = await openImport(db.knex, opened('delta.xlsx', true));
    await closeImport(db.knex, deltaId, {
      status: 'imported',
      finishedAt: now,
      counts: { rows: 2, created: 2, updated: 0, unchanged: 0, failed: 0, deactivated: 0 },
    });
    await db.knex('users').insert([
      // Deactivated for absence by the workday mirror feed.
      {
        username: 'gone',
        active: false,
        feed: 'workday',
        deactivated_reason: 'absent',
        created_at: now,
        updated_at: now,
      },
      // Owned by a feed, active.
      { username: 'here', active: true, feed: 'workday', created_at: now, updated_at: now },
      // Inactive by a file row or by hand, owned by no feed (created before feeds were recorded).
      { username: 'off', active: false, created_at: now, updated_at: now },
    ]);
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('reads back the deactivated count an import was closed with, and 0 for one that deactivated nobody', async () => {
    expect((await getImport(db.knex, mirrorId))?.counts).toEqual({
      rows: 40,
      created: 1,
      updated: 2,
      unchanged: 37,
      failed: 0,
      deactivated: 3,
    });
    expect((await getImport(db.knex, deltaId))?.counts.deactivated).toBe(0);
    const listed = await listImports(db.knex);
    expect(listed.map((r) => [r.id, r.counts.deactivated])).toEqual([
      [deltaId, 0],
      [mirrorId, 3],
    ]);
  });

  it('shows the count in a DEACTIVATED column of imports list and on its own line of imports show', async () => {
    const list = await usersync('imports', 'list');
    expect(list.code, list.stderr).toBe(0);
    const [head, ...lines] = list.stdout.trim().split('\n');
    const column = head!.split(/\s+/).indexOf('DEACTIVATED');
    expect(column).toBe(head!.split(/\s+/).length - 1);
    const cellOf = (id: number) =>
      lines
        .find((l) => l.split(/\s+/)[0] === String(id))
        ?.split(/\s+/)
        .at(-1);
    expect(cellOf(mirrorId)).toBe('3');
    expect(cellOf(deltaId)).toBe('0');

    const shown = await usersync('imports', 'show', String(mirrorId));
    expect(shown.stdout).toMatch(/^Deactivated\s+3 \(left out of the file by mirror feed workday\)$/m);
    expect(shown.stdout).toMatch(/^Rows\s+40: 1 created, 2 updated, 37 unchanged, 0 failed$/m);
    expect((await usersync('imports', 'show', String(deltaId))).stdout).toMatch(/^Deactivated\s+0$/m);
    const json = await usersync('imports', 'show', String(mirrorId), '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ counts: { deactivated: 3 } });
  });

  it('gives every user its feed and deactivatedReason in users list --json and users show --json', async () => {
    const list = await usersync('users', 'list', '--json');
    expect(list.code, list.stderr).toBe(0);
    const users = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(
      users.map(({ username, active, feed, deactivatedReason }) => ({ username, active, feed, deactivatedReason })),
    ).toEqual([
      { username: 'gone', active: false, feed: 'workday', deactivatedReason: 'absent' },
      { username: 'here', active: true, feed: 'workday', deactivatedReason: null },
      { username: 'off', active: false, feed: null, deactivatedReason: null },
    ]);
    const shown = await usersync('users', 'show', 'GONE', '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ username: 'gone', feed: 'workday', deactivatedReason: 'absent' });
  });

  it('says in users show which feed owns the user and whether it was deactivated for absence', async () => {
    const gone = (await usersync('users', 'show', 'gone')).stdout;
    expect(gone).toMatch(/^Feed\s+workday$/m);
    expect(gone).toMatch(/^Deactivated\s+absent: left out of the files of feed workday$/m);
    const here = (await usersync('users', 'show', 'here')).stdout;
    expect(here).toMatch(/^Deactivated\s+—$/m);
    const off = (await usersync('users', 'show', 'off')).stdout;
    expect(off).toMatch(/^Feed\s+\(none recorded\)$/m);
    expect(off).toMatch(/^Deactivated\s+not for absence \(by a file row or by hand\)$/m);
  });

  it('gives a file that is not there counts.deactivated: 0 in import --json, like every report', async () => {
    const result = await usersync('import', 'not-there.xlsx', '--json');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({
      outcome: 'rejected',
      counts: { rows: 0, created: 0, updated: 0, unchanged: 0, failed: 0, deactivated: 0 },
    });
  });
});
