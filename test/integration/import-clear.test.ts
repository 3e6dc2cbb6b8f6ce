/**
 * The clear marker (`import.clearMarker`, default `(clear)`): HR empties an optional field on
 * purpose, since a blank cell always keeps the stored value.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, snapshot, userEvents, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, writeXlsx } from '../fixtures/build.js';

describeEachDatabase('clearing fields with the clear marker', (database) => {
  let pipe: TestPipeline;
  let dir: string;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url);
    dir = fixtureDir();
  });
  afterAll(async () => pipe?.close());

  const user = async (username: string) => {
    const row = (await pipe.db
      .knex('users')
      .leftJoin('departments', 'departments.id', 'users.department_id')
      .where('username', username)
      .select('users.*', 'departments.name as department')
      .first()) as Record<string, unknown>;
    const roles = (await pipe.db
      .knex('user_roles')
      .join('roles', 'roles.id', 'role_id')
      .where('user_id', row.id as number)
      .pluck('roles.name')) as string[];
    const groups = (await pipe.db
      .knex('user_group_members')
      .join('user_groups', 'user_groups.id', 'group_id')
      .where('user_id', row.id as number)
      .pluck('user_groups.name')) as string[];
    return {
      name: row.name,
      email: row.email,
      phone: row.phone,
      department: row.department,
      roles: roles.sort(),
      groups: groups.sort(),
      updatedAt: row.updated_at,
    };
  };
  //              Name, Username, Password, Department, E-mail, Phone, Active, Ignore MFA, Roles, User group
  const clearAll = ['', 'cleo', '', '(clear)', '(CLEAR)', ' (Clear) ', '', '', '(clear)', '(clear)'];

  it('empties E-mail, Phone, Department, Roles and User group, audited as an update to null / [] — and a dry run only says would-update', async () => {
    const first = await writeXlsx(path.join(dir, 'cleo.xlsx'), [
      TEMPLATE,
      userRow({
        name: 'Cleo Diaz',
        username: 'cleo',
        department: 'Finance',
        email: 'cleo@example.com',
        phone: '5511987654321',
        roles: 'Auditor; Viewer',
        groups: 'IT, Sales',
      }),
    ]);
    expect(pipe.report(await pipe.run(first)).counts).toMatchObject({ created: 1, failed: 0 });
    const before = await user('cleo');
    expect(before).toMatchObject({
      email: 'cleo@example.com',
      phone: '5511987654321',
      department: 'Finance',
      roles: ['Auditor', 'Viewer'],
      groups: ['IT', 'Sales'],
    });

    const file = writeCsv(path.join(dir, 'clear.csv'), [TEMPLATE, clearAll]);
    const untouched = await snapshot(pipe.db);
    const dry = pipe.report(await pipe.run(file, { dryRun: true }));
    expect(dry.rows).toEqual([
      {
        row: 2,
        username: 'cleo',
        status: 'would-update',
        changes: ['email', 'phone', 'department', 'roles', 'groups'],
      },
    ]);
    expect(await snapshot(pipe.db)).toEqual(untouched);

    const report = pipe.report(await pipe.run(file));
    expect(report.rows).toEqual([
      { row: 2, username: 'cleo', status: 'updated', changes: ['email', 'phone', 'department', 'roles', 'groups'] },
    ]);
    expect(await user('cleo')).toMatchObject({
      name: 'Cleo Diaz',
      email: null,
      phone: null,
      department: null,
      roles: [],
      groups: [],
    });
    const event = await pipe.db
      .knex('audit_events')
      .where({ action: 'user.updated', username: 'cleo', import_id: report.importId as number })
      .first();
    expect(JSON.parse(event.changes as string)).toEqual({
      email: { old: 'cleo@example.com', new: null },
      phone: { old: '5511987654321', new: null },
      department: { old: 'Finance', new: null },
      roles: { old: ['Auditor', 'Viewer'], new: [] },
      groups: { old: ['IT', 'Sales'], new: [] },
    });
    // Only cleo's memberships went; the department and the catalogue stay.
    expect(await pipe.db.knex('departments').where('name_key', 'finance').pluck('name')).toEqual(['Finance']);
  });

  it('is idempotent: clearing what is already empty is unchanged, writing nothing', async () => {
    const before = await user('cleo');
    const events = await userEvents(pipe.db);
    const report = pipe.report(await pipe.run(writeCsv(path.join(dir, 'clear-again.csv'), [TEMPLATE, clearAll])));
    expect(report.rows).toEqual([{ row: 2, username: 'cleo', status: 'unchanged', changes: [] }]);
    expect(await user('cleo')).toEqual(before);
    expect(await userEvents(pipe.db)).toBe(events);
  });

  it('fails a row that puts the marker in Name or Password, changing nothing for that user', async () => {
    const file = writeCsv(path.join(dir, 'clear-name.csv'), [
      TEMPLATE,
      ['(clear)', 'cleo', '', '', 'new@example.com', '', '', '', '', ''],
      ['', 'cleo2', '(clear)', '', '', '', '', '', '', ''],
    ]);
    const report = pipe.report(await pipe.run(file));
    expect(report.rows).toEqual([
      {
        row: 2,
        username: 'cleo',
        status: 'failed',
        changes: [],
        code: 'ROW_CANNOT_CLEAR',
        message: expect.stringContaining('Name cannot be cleared with "(clear)"'),
      },
      {
        row: 3,
        username: 'cleo2',
        status: 'failed',
        changes: [],
        code: 'ROW_CANNOT_CLEAR',
        message: expect.stringContaining('Password cannot be cleared with "(clear)"'),
      },
    ]);
    expect((await user('cleo')).email).toBeNull();
  });

  it('treats the marker as text when import.clearMarker is empty, and honours another marker', async () => {
    const off = await createTestPipeline(database().url, { import: { clearMarker: '' } });
    const dash = await createTestPipeline(database().url, { import: { clearMarker: '-' } });
    try {
      const literal = off.report(
        await off.run(
          writeCsv(path.join(dir, 'off.csv'), [TEMPLATE, ['', 'cleo', '', '', '', '(clear)', '', '', '', '']]),
        ),
      );
      expect(literal.rows).toEqual([{ row: 2, username: 'cleo', status: 'updated', changes: ['phone'] }]);
      expect((await user('cleo')).phone).toBe('(clear)');
      const cleared = dash.report(
        await dash.run(writeCsv(path.join(dir, 'dash.csv'), [TEMPLATE, ['', 'cleo', '', '', '', '-', '', '', '', '']])),
      );
      expect(cleared.rows).toEqual([{ row: 2, username: 'cleo', status: 'updated', changes: ['phone'] }]);
      expect((await user('cleo')).phone).toBeNull();
    } finally {
      await off.close();
      await dash.close();
    }
  });
});
