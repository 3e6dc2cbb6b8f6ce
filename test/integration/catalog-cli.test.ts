import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import knex from 'knex';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { spawnSync } from 'node:child_process';
import { makeWorkdir, runUsersync, usersyncCommandLine } from '../helpers/cli.js';
import { TEMPLATE, writeCsv } from '../fixtures/build.js';

describeEachDatabase('catalogue and directory commands', (database) => {
  let cwd: string;
  const usersync = (...args: string[]) => runUsersync(args, { cwd, env: { USERSYNC_DATABASE_URL: database().url } });
  const json = async (...args: string[]) => {
    const result = await usersync(...args, '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as unknown;
  };

  beforeAll(async () => {
    cwd = makeWorkdir();
    mkdirSync(path.join(cwd, 'config'));
    // No configured catalogue: these tests add and remove roles by hand (actor-audit.test.ts covers catalog.*).
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({ logs: { console: 'json' }, catalog: { roles: [], groups: [] } }),
    );
    expect((await usersync('migrate')).code).toBe(0);
  });

  it('adds roles once, whatever the case, and lists them', async () => {
    const first = await usersync('roles', 'add', 'Administrator', 'Auditor');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('created role "Administrator"');
    const again = await json('roles', 'add', 'ADMINISTRATOR', ' auditor ', 'Operator');
    expect(again).toEqual({ created: ['Operator'], existing: ['ADMINISTRATOR', 'auditor'] });
    const list = (await json('roles', 'list')) as Array<{ name: string; users: number }>;
    expect(list.map((r) => r.name)).toEqual(['Administrator', 'Auditor', 'Operator']);
    expect(list.every((r) => r.users === 0)).toBe(true);
    const table = await usersync('roles', 'list');
    expect(table.stdout).toMatch(/^NAME\s+USERS\s+CREATED/);
  });

  it('refuses to remove a role or group users hold, saying how many hold it', async () => {
    await usersync('groups', 'add', 'Finance', 'IT');
    const db = knex({
      client: database().kind === 'sqlite' ? 'better-sqlite3' : 'mysql2',
      connection: database().kind === 'sqlite' ? { filename: database().url.slice(7) } : database().url,
      useNullAsDefault: true,
    });
    try {
      const now = new Date().toISOString();
      const [dept] = await db('departments').insert({ name: 'Sales', name_key: 'sales', created_at: now });
      await db('users').insert([
        { username: 'ana', name: 'Ana', department_id: dept, created_at: now, updated_at: now },
        { username: 'bo', name: 'Bo', created_at: now, updated_at: now },
      ]);
      const users = (await db('users').select('id').orderBy('id')) as Array<{ id: number }>;
      const role = (await db('roles').where('name_key', 'auditor').first()) as { id: number };
      const group = (await db('user_groups').where('name_key', 'finance').first()) as { id: number };
      await db('user_roles').insert(users.map((u) => ({ user_id: u.id, role_id: role.id })));
      await db('user_group_members').insert({ user_id: users[0]?.id, group_id: group.id });
    } finally {
      await db.destroy();
    }
    const refused = await usersync('roles', 'remove', 'Auditor', 'Operator');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('"Auditor" is held by 2 users');
    expect(refused.stderr).toContain('CATALOG_IN_USE');
    expect(((await json('roles', 'list')) as unknown[]).length).toBe(3); // nothing removed, not even Operator

    const removed = await json('roles', 'remove', 'operator', 'Ghost');
    expect(removed).toEqual({ removed: ['operator'], missing: ['Ghost'] });
    const groupRefused = await usersync('groups', 'remove', 'finance');
    expect(groupRefused.code).toBe(2);
    expect(groupRefused.stderr).toContain('"Finance" is held by 1 user');
    expect(await json('groups', 'remove', 'IT')).toEqual({ removed: ['IT'], missing: [] });
  });

  it('lists departments and users in the SPEC user shape', async () => {
    expect(await json('departments', 'list')).toEqual([expect.objectContaining({ name: 'Sales', users: 1 })]);
    const users = (await json('users', 'list')) as Array<Record<string, unknown>>;
    expect(users.map((u) => u.username)).toEqual(['ana', 'bo']);
    expect(Object.keys(users[0] ?? {}).sort()).toEqual(
      [
        'username',
        'name',
        'email',
        'phone',
        'department',
        'active',
        'ignoreMfa',
        'roles',
        'groups',
        'hasPassword',
        'passwordUpdatedAt',
        'createdAt',
        'updatedAt',
        'feed',
        'deactivatedReason',
      ].sort(),
    );
    expect(users[0]).toMatchObject({
      username: 'ana',
      department: 'Sales',
      active: true,
      ignoreMfa: false,
      roles: ['Auditor'],
      groups: ['Finance'],
      hasPassword: false,
    });
    expect(await json('users', 'list', '--role', 'auditor', '--department', 'sales')).toHaveLength(1);
    expect(await json('users', 'show', 'ANA')).toMatchObject({ username: 'ana', roles: ['Auditor'] });
    const shown = await usersync('users', 'show', 'bo');
    expect(shown.stdout).toMatch(/Username\s+bo/);
    const missing = await usersync('users', 'show', 'nobody');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('USER_NOT_FOUND');
  });
  it('ends quietly with its own exit code when the reader of its output goes away (| head)', async () => {
    // More than a pipe buffer (64 KB) of output, so that usersync is still writing when head leaves.
    const csv = writeCsv(path.join(cwd, 'many.csv'), [
      TEMPLATE,
      ...Array.from({ length: 3000 }, (_, i) => [
        `Piped Person ${i}`,
        `piped${i}`,
        '',
        'Piping',
        `piped${i}@example.com`,
        '',
        '',
        '',
        '',
        '',
      ]),
    ]);
    expect((await usersync('import', csv)).code).toBe(0);
    // bash: PIPESTATUS gives usersync's own exit status, not head's.
    const piped = spawnSync(
      'bash',
      ['-c', `${usersyncCommandLine(['users', 'list'])} | head -c 1 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`],
      { cwd, env: { ...process.env, USERSYNC_DATABASE_URL: database().url }, encoding: 'utf8' },
    );
    expect(piped.stdout.trim()).toBe('exit=0');
    expect(piped.stderr).not.toMatch(/unexpected error|EPIPE/);
  });
});
