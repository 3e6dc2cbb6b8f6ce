/**
 * Protected accounts (SPEC §9): rows for `safety.protectedUsers` fail with ROW_PROTECTED_USER,
 * rows that would grant or remove one of `safety.protectedRoles` fail with ROW_PROTECTED_ROLE; the
 * other rows of the file apply, and a dry run reports the same.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, snapshot, userEvents, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, writeXlsx } from '../fixtures/build.js';

const SAFETY = {
  protectedUsers: ['admin', 'breakglass-*'],
  // Spelled unlike the catalogue (Administrator, Finance): names match like the catalogue's.
  protectedRoles: ['  ADMINISTRATOR ', 'finance'],
};

describeEachDatabase('protected users, roles and groups', (database) => {
  let seed: TestPipeline;
  let pipe: TestPipeline;
  let dir: string;
  beforeAll(async () => {
    seed = await createTestPipeline(database().url);
    pipe = await createTestPipeline(database().url, { safety: SAFETY });
    dir = fixtureDir();
    // The directory before: written by an import without protections.
    const report = seed.report(
      await seed.run(
        await writeXlsx(path.join(dir, 'seed.xlsx'), [
          TEMPLATE,
          userRow({ name: 'Admin', username: 'admin', roles: 'Viewer' }),
          userRow({ name: 'Break Glass', username: 'breakglass-1', email: 'bg@example.com' }),
          userRow({ name: 'Ann', username: 'ann', roles: 'Viewer', groups: 'IT' }),
          userRow({ name: 'Bob', username: 'bob', roles: 'Administrator; Viewer' }),
          userRow({ name: 'Cid', username: 'cid', groups: 'Finance, IT' }),
          userRow({ name: 'Dan', username: 'dan', roles: 'Administrator' }),
          userRow({ name: 'Eve', username: 'eve', groups: 'Finance' }),
        ]),
      ),
    );
    expect(report.counts).toMatchObject({ created: 7, failed: 0 });
  });
  afterAll(async () => {
    await pipe?.close();
    await seed?.close();
  });

  const memberships = async (username: string) => {
    const id = (await pipe.db.knex('users').where({ username }).first('id'))?.id as number;
    const roles = (await pipe.db
      .knex('user_roles')
      .join('roles', 'roles.id', 'role_id')
      .where('user_id', id)
      .pluck('roles.name')) as string[];
    const groups = (await pipe.db
      .knex('user_group_members')
      .join('user_groups', 'user_groups.id', 'group_id')
      .where('user_id', id)
      .pluck('user_groups.name')) as string[];
    return { roles: roles.sort(), groups: groups.sort() };
  };

  const failed = (row: number, username: string, code: string, message: unknown) => ({
    row,
    username,
    status: 'failed',
    changes: [],
    code,
    message,
  });
  const protectedUser = (row: number, username: string) =>
    failed(row, username, 'ROW_PROTECTED_USER', expect.stringContaining(`"${username}" is a protected user`));
  const protectedRole = (row: number, username: string, text: string) =>
    failed(row, username, 'ROW_PROTECTED_ROLE', expect.stringContaining(text));

  /** One file of every case, other rows between them; `written` says what the rows that pass do. */
  const file = () =>
    writeCsv(path.join(dir, 'changes.csv'), [
      TEMPLATE,
      // Protected users: an update that changes nothing, one that would, a create — glob and case.
      ['Admin', 'admin', '', '', '', '', '', '', '', ''],
      ['', 'BreakGlass-1', 'a-long-password', '', 'new@example.com', '', '', '', '', ''],
      ['New Glass', 'breakglass-9', '', '', '', '', '', '', '', ''],
      // Grant of a protected role to an existing user; removals by a replacing cell and by the marker.
      ['', 'ann', '', '', '', '', '', '', 'Viewer; administrator', ''],
      ['', 'bob', '', '', '', '', '', '', 'Viewer', ''],
      ['', 'hal', '', '', 'not-an-address', '', '', '', '', ''],
      ['', 'dan', '', '', '', '', '', '', '(clear)', ''],
      ['', 'cid', '', '', '', '', '', '', '', 'IT'],
      // A new user created with a protected group.
      ['Fay', 'fay', '', '', '', '', '', '', '', 'FINANCE'],
      // Listing a protected group the user already has is no change to it: the row applies.
      ['Eve Two', 'eve', '', '', '', '', '', '', '', 'Finance'],
      ['Gus', 'gus', '', '', '', '', '', '', 'Viewer', 'IT'],
    ]);

  const expectedRows = (created: string, updated: string) => [
    protectedUser(2, 'admin'),
    protectedUser(3, 'breakglass-1'),
    protectedUser(4, 'breakglass-9'),
    protectedRole(5, 'ann', 'would grant the protected role "ADMINISTRATOR" to "ann"'),
    protectedRole(6, 'bob', 'would remove the protected role "ADMINISTRATOR" from "bob"'),
    failed(7, 'hal', 'ROW_INVALID_EMAIL', expect.any(String)),
    protectedRole(8, 'dan', 'would remove the protected role "ADMINISTRATOR" from "dan"'),
    protectedRole(9, 'cid', 'would remove the protected user group "finance" from "cid"'),
    protectedRole(10, 'fay', 'would grant the protected user group "finance" to "fay"'),
    { row: 11, username: 'eve', status: updated, changes: ['name'] },
    { row: 12, username: 'gus', status: created, changes: ['name', 'active', 'ignoreMfa', 'roles', 'groups'] },
  ];

  it('a dry run reports the same failures and writes nothing', async () => {
    const before = await snapshot(pipe.db);
    const events = await userEvents(pipe.db);
    const report = pipe.report(await pipe.run(file(), { dryRun: true }));
    expect(report.rows).toEqual(expectedRows('would-create', 'would-update'));
    expect(await snapshot(pipe.db)).toEqual(before);
    expect(await userEvents(pipe.db)).toBe(events);
  });

  it('fails protected rows, applies the others, and audits only what was applied', async () => {
    const before = await snapshot(pipe.db);
    const result = await pipe.run(file());
    const report = pipe.report(result);
    expect(report.rows).toEqual(expectedRows('created', 'updated'));
    expect(report.counts).toMatchObject({ created: 1, updated: 1, failed: 9 });

    // The protected users and the refused memberships are as they were.
    const users = (await pipe.db.knex('users').orderBy('username').pluck('username')) as string[];
    expect(users).toEqual(['admin', 'ann', 'bob', 'breakglass-1', 'cid', 'dan', 'eve', 'gus']);
    const stored = (username: string) => before.users!.find((u) => (u as { username: string }).username === username);
    for (const username of ['admin', 'breakglass-1', 'ann', 'bob', 'cid', 'dan'])
      expect(await pipe.db.knex('users').where({ username }).first()).toEqual(stored(username));
    expect(await memberships('ann')).toEqual({ roles: ['Viewer'], groups: ['IT'] });
    expect(await memberships('bob')).toEqual({ roles: ['Administrator', 'Viewer'], groups: [] });
    expect(await memberships('dan')).toEqual({ roles: ['Administrator'], groups: [] });
    expect(await memberships('cid')).toEqual({ roles: [], groups: ['Finance', 'IT'] });
    expect(await memberships('eve')).toEqual({ roles: [], groups: ['Finance'] });
    expect(await memberships('gus')).toEqual({ roles: ['Viewer'], groups: ['IT'] });

    const audited = (await pipe.db
      .knex('audit_events')
      .where({ import_id: report.importId as number })
      .whereIn('action', ['user.created', 'user.updated'])
      .orderBy('id')
      .select('username', 'action')) as Array<{ username: string; action: string }>;
    expect(audited).toEqual([
      { username: 'eve', action: 'user.updated' },
      { username: 'gus', action: 'user.created' },
    ]);
  });

  it('holds whatever safety.enabled says: protected accounts are not guards', async () => {
    const off = await createTestPipeline(database().url, { safety: { ...SAFETY, enabled: false } });
    try {
      const report = off.report(
        await off.run(
          writeCsv(path.join(dir, 'off.csv'), [
            TEMPLATE,
            ['', 'admin', '', '', 'x@example.com', '', '', '', '', ''],
            ['', 'ann', '', '', '', '', '', '', 'Administrator', ''],
          ]),
        ),
      );
      expect(report.rows).toEqual([
        protectedUser(2, 'admin'),
        protectedRole(3, 'ann', 'would grant the protected role "ADMINISTRATOR" to "ann"'),
      ]);
    } finally {
      await off.close();
    }
  });
});
