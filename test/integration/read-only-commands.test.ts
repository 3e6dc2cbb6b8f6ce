/**
 * Commands that only read (users list/show, imports list/show/recover, audit, audit verify,
 * roles/groups/departments list, and template's catalogue look-up) leave nothing behind where they run, and
 * every "not found" names the database that was searched.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import knex from 'knex';
import { expect, it } from 'vitest';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { describeEachDatabase } from '../helpers/databases.js';

const READS: ReadonlyArray<readonly string[]> = [
  ['users', 'list'],
  ['users', 'show', 'ann'],
  ['imports', 'list'],
  ['imports', 'show', '6'],
  ['imports', 'recover', '6'],
  ['audit'],
  ['audit', 'verify'],
  ['roles', 'list'],
  ['groups', 'list'],
  ['departments', 'list'],
];

describeEachDatabase('read-only commands', (database) => {
  /** SQLite: the default ./data/usersync.sqlite of the folder it runs in; MySQL: the test's empty database. */
  const envFor = () => (database().kind === 'sqlite' ? {} : { USERSYNC_DATABASE_URL: database().url });
  const tablesOf = async (): Promise<string[]> => {
    const admin = knex({ client: 'mysql2', connection: database().url, pool: { min: 0, max: 1 } });
    try {
      const [rows] = (await admin.raw('SHOW TABLES')) as [Array<Record<string, string>>];
      return rows.map((row) => Object.values(row)[0] as string);
    } finally {
      await admin.destroy();
    }
  };

  it('create no database, database folder, tables or logs/ where there is none, and say where they looked (exit 2)', async () => {
    const cwd = makeWorkdir('usersync-elsewhere-');
    const where =
      database().kind === 'sqlite'
        ? path.join(cwd, 'data', 'usersync.sqlite')
        : new URL(database().url).pathname.slice(1);
    for (const args of READS) {
      const result = await runUsersync(args, { cwd, env: envFor() });
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain('DB_NOT_FOUND');
      expect(result.stderr).toContain(where);
      expect(result.stderr).toMatch(/No usersync database at|holds no usersync tables/);
      expect(result.stdout).toBe('');
    }
    const template = await runUsersync(['template'], { cwd, env: envFor() });
    expect(template.code).toBe(0); // falls back to the configured catalogue
    expect(readdirSync(cwd)).toEqual(['import_users.xlsx']); // no data/, no logs/
    if (database().kind === 'mysql') expect(await tablesOf()).toEqual([]);
  });

  it('name the database searched when the user or import is not there', async () => {
    const cwd = makeWorkdir();
    const env = { USERSYNC_DATABASE_URL: database().url };
    expect((await runUsersync(['migrate'], { cwd, env })).code).toBe(0);
    // The description shown for the database: the file for SQLite, the URL (password hidden) for MySQL.
    const searched = database().kind === 'sqlite' ? database().url : database().url.replace(/\/$/, '');

    const recover = await runUsersync(['imports', 'recover', '6'], { cwd, env });
    expect(recover.code).toBe(2);
    expect(recover.stderr).toContain(`No import has the id 6 in ${searched}.`);
    const show = await runUsersync(['users', 'show', 'Nobody'], { cwd, env });
    expect(show.code).toBe(2);
    expect(show.stderr).toContain(`No user has the username "nobody" in ${searched}.`);
    for (const [args, text] of [
      [['users', 'list'], `No users in ${searched}.`],
      [['imports', 'list'], `No imports yet in ${searched}.`],
      [['audit'], `No matching audit events in ${searched}.`],
      [['departments', 'list'], `No departments yet in ${searched}.`],
    ] as const) {
      const result = await runUsersync(args, { cwd, env });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(text);
    }
  });

  it('append to usersync.log where logs/ exists, and never create it', async () => {
    const cwd = makeWorkdir();
    const env = { USERSYNC_DATABASE_URL: database().url };
    expect((await runUsersync(['imports', 'show', '6'], { cwd, env })).code).toBe(2);
    expect(readdirSync(cwd)).toEqual([]);
    mkdirSync(path.join(cwd, 'logs'));
    expect((await runUsersync(['imports', 'show', '6'], { cwd, env })).code).toBe(2);
    expect(readFileSync(path.join(cwd, 'logs', 'usersync.log'), 'utf8')).toContain('IMPORT_NOT_FOUND');
  });
});
