import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, snapshot, userEvents, type TestPipeline } from '../helpers/pipeline.js';
import { openSpreadsheet } from '../../src/pipeline/read/index.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, writeXlsx } from '../fixtures/build.js';

describeEachDatabase('import pipeline', (database) => {
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
      .first()) as Record<string, unknown> | undefined;
    if (!row) return undefined;
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
    return { ...row, roles: roles.sort(), groups: groups.sort() } as Record<string, unknown> & {
      roles: string[];
      groups: string[];
    };
  };

  it('creates users, departments and memberships from a first load, with a report and a register record', async () => {
    const file = await writeXlsx(path.join(dir, 'first-load.xlsx'), [
      TEMPLATE,
      userRow({
        name: 'Ana Silva',
        username: 'Ana.Silva',
        department: 'Finance',
        email: 'Ana.Silva@Example.com',
        phone: 5511987654321,
        active: 'Yes',
        ignoreMfa: 'No',
        roles: 'Administrator; Auditor',
        groups: 'IT',
      }),
      userRow({
        name: 'Bruno Costa',
        username: 'bcosta',
        department: 'Sales',
        active: true,
        ignoreMfa: false,
        roles: 'Viewer',
      }),
      userRow({ name: 'José Ñúñez', username: 'José', department: 'finance' }),
    ]);
    const result = await pipe.run(file);
    expect(result.exitCode).toBe(0);
    const report = pipe.report(result);
    expect(report).toMatchObject({
      importId: expect.any(Number),
      file: { name: 'first-load.xlsx', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      dryRun: false,
      outcome: 'imported',
      counts: { rows: 3, created: 3, updated: 0, unchanged: 0, failed: 0, deactivated: 0 },
    });
    expect(report.rows.map((r) => [r.row, r.username, r.status])).toEqual([
      [2, 'ana.silva', 'created'],
      [3, 'bcosta', 'created'],
      [4, 'josé', 'created'],
    ]);
    expect(await user('ana.silva')).toMatchObject({
      name: 'Ana Silva',
      email: 'ana.silva@example.com',
      phone: '5511987654321',
      department: 'Finance',
      roles: ['Administrator', 'Auditor'],
      groups: ['IT'],
    });
    expect(await user('josé')).toMatchObject({ department: 'Finance' }); // matched case-insensitively, not created twice
    expect(await pipe.db.knex('departments').pluck('name')).toEqual(['Finance', 'Sales']);
    const record = await pipe.db
      .knex('imports')
      .where('id', report.importId as number)
      .first();
    expect(record).toMatchObject({ status: 'imported', rows: 3, created: 3, original_name: 'first-load.xlsx' });
    const actions = (await pipe.db
      .knex('audit_events')
      .where('import_id', report.importId as number)
      .orderBy('id')
      .pluck('action')) as string[];
    expect(actions).toEqual([
      'import.started',
      'department.created',
      'department.created',
      'user.created',
      'user.created',
      'user.created',
      'import.finished',
    ]);
  });

  it('counts in the register what it committed when the reports then cannot be written', async () => {
    const file = writeCsv(path.join(dir, 'committed.csv'), [
      TEMPLATE,
      ['Kim Lee', 'kim.lee', '', '', '', '', '', '', '', ''],
      ['Lu Yan', 'lu.yan', '', '', '', '', '', '', '', ''],
    ]);
    // Every report name taken: the reports fail after the rows are committed (a disk filling up would too).
    const full = path.join(dir, 'full');
    mkdirSync(full);
    for (let n = 1; n <= 1000; n++)
      writeFileSync(path.join(full, n === 1 ? 'committed.report.json' : `committed.report (${n}).json`), '');
    await expect(pipe.run(file, { reportDir: full })).rejects.toMatchObject({ code: 'FS_IO_FAILED' });
    expect(await user('kim.lee')).toBeDefined();
    const record = await pipe.db.knex('imports').where('original_name', 'committed.csv').first();
    expect(record).toMatchObject({ status: 'failed', error_code: 'FS_IO_FAILED', rows: 2, created: 2 });
  });

  it('writes nothing when the same content is imported again', async () => {
    const before = await snapshot(pipe.db);
    const events = await userEvents(pipe.db);
    const result = await pipe.run(path.join(dir, 'first-load.xlsx'));
    const report = pipe.report(result);
    expect(report.counts).toEqual({ rows: 3, created: 0, updated: 0, unchanged: 3, failed: 0, deactivated: 0 });
    expect(await snapshot(pipe.db)).toEqual(before); // no user row, no updated_at, no membership moved
    expect(await userEvents(pipe.db)).toBe(events);
  });

  it('imports through a reader opened ahead, and closes one it never got to use', async () => {
    const file = await writeXlsx(path.join(dir, 'read-ahead.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Ahead One', username: 'ahead1' }),
      userRow({ name: 'Ahead Two', username: 'ahead2' }),
    ]);
    const used = await pipe.run(file, { reader: openSpreadsheet(file, pipe.config.import) });
    expect(pipe.report(used).rows.map((r) => [r.username, r.status])).toEqual([
      ['ahead1', 'created'],
      ['ahead2', 'created'],
    ]);
    // Not read ahead (the CLI's answer for a file it would not read early): opened here instead.
    const opened = await pipe.run(file, { reader: Promise.resolve(undefined) });
    expect(pipe.report(opened).rows.map((r) => [r.username, r.status])).toEqual([
      ['ahead1', 'unchanged'],
      ['ahead2', 'unchanged'],
    ]);

    // The file is rejected (empty) before reading begins: the reader opened ahead must not be left running.
    const empty = path.join(dir, 'empty.xlsx');
    writeFileSync(empty, '');
    let closed = false;
    const reader = openSpreadsheet(file, pipe.config.import).then((opened) => {
      const close = opened.close.bind(opened);
      return Object.assign(opened, { close: () => ((closed = true), close()) });
    });
    const rejected = await pipe.run(empty, { reader });
    expect(rejected.summary.error?.code).toBe('FILE_EMPTY');
    await reader;
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });

  it('opens the writer thread before the reader has the header, and closes it whether the rows come or the file is rejected', async () => {
    const openWriter = pipe.db.openWriter.bind(pipe.db);
    const writers: Array<{ closed: number }> = [];
    pipe.db.openWriter = () => {
      const writer = openWriter();
      if (writer === undefined) throw new Error('a file-backed store always has a writer thread');
      const entry = { closed: 0 };
      writers.push(entry);
      const close = writer.close.bind(writer);
      return Object.assign(writer, { close: () => ((entry.closed += 1), close()) });
    };
    try {
      const file = await writeXlsx(path.join(dir, 'writer-early.xlsx'), [
        TEMPLATE,
        userRow({ name: 'Early One', username: 'early1' }),
      ]);
      // The reader is held back until the writer thread exists: it must not wait for the header.
      let release!: () => void;
      const reader = new Promise<void>((resolve) => (release = resolve)).then(() =>
        openSpreadsheet(file, pipe.config.import),
      );
      const importing = pipe.run(file, { reader });
      await vi.waitFor(() => expect(writers).toHaveLength(1));
      release();
      const imported = await importing;
      expect(pipe.report(imported).rows.map((r) => [r.username, r.status])).toEqual([['early1', 'created']]);
      const headerless = await writeXlsx(path.join(dir, 'writer-no-header.xlsx'), [['just', 'some', 'cells']]);
      const rejected = await pipe.run(headerless);
      expect(rejected.summary.error?.code).toBe('FILE_NO_HEADER');
      expect(writers).toHaveLength(2);
      for (const writer of writers) expect(writer.closed).toBeGreaterThan(0);
    } finally {
      pipe.db.openWriter = openWriter;
    }
  });

  it('fails the batch as DB_CONFLICT, changing nothing, when another process creates one of its new users after the look-up; the retry updates that user', async () => {
    const file = writeCsv(path.join(dir, 'race.csv'), [
      TEMPLATE,
      ['Race One', 'race1', '', 'Finance', '', '', '', '', 'Viewer', ''],
      ['Race Two', 'race2', '', 'Finance', '', '', '', '', 'Auditor', ''],
    ]);
    const openWriter = pipe.db.openWriter.bind(pipe.db);
    // Between the batch's look-up (race2 unknown) and its insert, another writer adds race2.
    pipe.db.openWriter = () => {
      const writer = openWriter();
      if (writer === undefined) throw new Error('a file-backed store always has a writer thread');
      const send = writer.send.bind(writer);
      let raced = false;
      return Object.assign(writer, {
        send: async () => {
          if (!raced) {
            raced = true;
            await pipe.db.knex('users').insert({
              username: 'race2',
              name: 'Other Process',
              created_at: '2026-01-01T00:00:00.000Z',
              updated_at: '2026-01-01T00:00:00.000Z',
            });
          }
          return send();
        },
      });
    };
    try {
      await expect(pipe.run(file)).rejects.toMatchObject({ code: 'DB_CONFLICT', kind: 'transient' });
    } finally {
      pipe.db.openWriter = openWriter;
    }
    expect(await user('race1')).toBeUndefined(); // the whole transaction rolled back
    expect(await pipe.db.knex('audit_events').where('username', 'race2').pluck('action')).toEqual([]); // never audited as created
    const retried = await pipe.run(file);
    expect(pipe.report(retried).rows.map((r) => [r.username, r.status])).toEqual([
      ['race1', 'created'],
      ['race2', 'updated'],
    ]);
    expect(await user('race2')).toMatchObject({
      name: 'Race Two',
      department: 'Finance',
      roles: ['Auditor'],
      created_at: '2026-01-01T00:00:00.000Z',
    });
  });

  it('fails a username repeated in a later batch, while that batch is prepared before the first is written', async () => {
    // Row 2,402 is batches after row 5 (BATCH_ROWS a batch), and later batches' stored users are
    // read while earlier ones are written; the repeat must fail as a duplicate and leave row 5's values alone.
    const rows = Array.from({ length: 2500 }, (_, i) => [
      `Batch ${i}`,
      `batch${i}`,
      '',
      'Finance',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
    rows[2400] = ['Impostor', 'BATCH3', '', 'Sales', '', '', '', '', '', ''];
    const result = await pipe.run(writeCsv(path.join(dir, 'two-batches.csv'), [TEMPLATE, ...rows]));
    const report = pipe.report(result);
    expect(report.counts).toEqual({ rows: 2500, created: 2499, updated: 0, unchanged: 0, failed: 1, deactivated: 0 });
    expect(report.rows[2400]).toMatchObject({
      row: 2402,
      username: 'batch3',
      status: 'failed',
      message: expect.stringContaining('duplicate of row 5'),
    });
    expect(await user('batch3')).toMatchObject({ name: 'Batch 3', department: 'Finance' });
  });

  it('matches usernames case-insensitively across files and keeps every blank cell’s stored value', async () => {
    const before = await user('ana.silva');
    const file = writeCsv(path.join(dir, 'update.csv'), [
      TEMPLATE,
      ['', 'ANA.SILVA', '', '', '', '', 'No', '', '', ''],
    ]);
    const report = pipe.report(await pipe.run(file));
    expect(report.rows).toEqual([{ row: 2, username: 'ana.silva', status: 'updated', changes: ['active'] }]);
    const after = await user('ana.silva');
    expect(after).toMatchObject({
      ...before,
      active: expect.anything(),
      updated_at: expect.any(String),
      last_import_id: expect.anything(),
    });
    expect(Boolean(Number(after?.active))).toBe(false);
    expect(after?.updated_at).not.toBe(before?.updated_at);
    const event = await pipe.db
      .knex('audit_events')
      .where({ action: 'user.updated', username: 'ana.silva' })
      .orderBy('id', 'desc')
      .first();
    expect(JSON.parse(event.changes as string)).toEqual({ active: { old: true, new: false } });
  });

  it('names roles in an updated user’s audit record as the catalogue spells them, not by their keys', async () => {
    const file = writeCsv(path.join(dir, 'roles-update.csv'), [
      TEMPLATE,
      ['', 'ana.silva', '', '', '', '', '', '', 'AUDITOR', ''],
    ]);
    expect(pipe.report(await pipe.run(file)).rows).toEqual([
      { row: 2, username: 'ana.silva', status: 'updated', changes: ['roles'] },
    ]);
    const event = await pipe.db
      .knex('audit_events')
      .where({ action: 'user.updated', username: 'ana.silva' })
      .orderBy('id', 'desc')
      .first();
    expect(JSON.parse(event.changes as string)).toEqual({
      roles: { old: ['Administrator', 'Auditor'], new: ['Auditor'] },
    });
  });

  it('creates a missing group once, and replaces only the membership sets that changed', async () => {
    const groupsPipe = await createTestPipeline(database().url, { import: { createMissingGroups: true } });
    try {
      const first = await writeXlsx(path.join(dir, 'groups-first.xlsx'), [
        TEMPLATE,
        userRow({ name: 'G One', username: 'gm1', department: 'Payroll', roles: 'Viewer', groups: 'Payroll Team; IT' }),
        userRow({ name: 'G Two', username: 'gm2', department: 'payroll', groups: 'payroll team' }),
        userRow({ name: 'G Three', username: 'gm3', roles: 'Auditor', groups: 'IT' }),
      ]);
      const created = groupsPipe.report(await groupsPipe.run(first));
      expect(created.counts).toMatchObject({ created: 3, failed: 0 });
      const actions = (await groupsPipe.db
        .knex('audit_events')
        .where('import_id', created.importId as number)
        .orderBy('id')
        .pluck('action')) as string[];
      expect(actions.filter((a) => a.endsWith('.created') && !a.startsWith('user'))).toEqual([
        'department.created',
        'group.created',
      ]);
      expect(await user('gm1')).toMatchObject({
        department: 'Payroll',
        roles: ['Viewer'],
        groups: ['IT', 'Payroll Team'],
      });
      expect(await user('gm2')).toMatchObject({ department: 'Payroll', roles: [], groups: ['Payroll Team'] });

      const second = await writeXlsx(path.join(dir, 'groups-second.xlsx'), [
        TEMPLATE,
        userRow({ name: 'G One', username: 'gm1', department: 'Payroll', roles: 'Auditor', groups: 'IT' }),
        userRow({ name: 'G Two', username: 'gm2', department: 'payroll', groups: 'payroll team' }),
        userRow({ name: 'G Three', username: 'gm3', roles: 'Auditor; Viewer', groups: 'IT' }),
      ]);
      const gm2Memberships = await groupsPipe.db
        .knex('user_group_members')
        .join('users', 'users.id', 'user_id')
        .where('username', 'gm2')
        .select('user_id', 'group_id');
      const updated = groupsPipe.report(await groupsPipe.run(second));
      expect(updated.rows.map((r) => [r.username, r.status, r.changes])).toEqual([
        ['gm1', 'updated', ['roles', 'groups']],
        ['gm2', 'unchanged', []],
        ['gm3', 'updated', ['roles']],
      ]);
      expect(await user('gm1')).toMatchObject({ roles: ['Auditor'], groups: ['IT'] });
      expect(await user('gm3')).toMatchObject({ roles: ['Auditor', 'Viewer'], groups: ['IT'] });
      expect(
        await groupsPipe.db
          .knex('user_group_members')
          .join('users', 'users.id', 'user_id')
          .where('username', 'gm2')
          .select('user_id', 'group_id'),
      ).toEqual(gm2Memberships);
      expect(await groupsPipe.db.knex('user_groups').where('name_key', 'payroll team').pluck('name')).toEqual([
        'Payroll Team',
      ]);
    } finally {
      await groupsPipe.close();
    }
  });

  it('keeps accented usernames distinct from unaccented ones', async () => {
    const file = writeCsv(path.join(dir, 'accents.csv'), [
      TEMPLATE,
      ['Jose Plain', 'jose', '', '', '', '', '', '', '', ''],
      ['', 'JOSÉ', '', '', '', '', '', '', 'Viewer', ''],
    ]);
    const report = pipe.report(await pipe.run(file));
    expect(report.rows.map((r) => [r.username, r.status])).toEqual([
      ['jose', 'created'],
      ['josé', 'updated'],
    ]);
    expect((await user('jose'))?.name).toBe('Jose Plain');
    expect((await user('josé'))?.roles).toEqual(['Viewer']);
  });

  it('fails bad rows with actionable messages and applies the others', async () => {
    const file = await writeXlsx(path.join(dir, 'bad-rows.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Good', username: 'good.one', email: 'good@example.com' }),
      userRow({ name: 'No Mail', username: 'nomail', email: 'not-an-email' }),
      userRow({ username: 'brand.new' }),
      userRow({ name: 'Dup', username: 'GOOD.ONE' }),
      userRow({ name: 'Roles', username: 'roles', roles: 'Auditor, Root, Wizard' }),
      userRow({ name: 'Err', username: 'err', email: { error: '#N/A' } as never }),
    ]);
    const result = await pipe.run(file);
    expect(result.exitCode).toBe(1);
    const report = pipe.report(result);
    expect(report.outcome).toBe('imported_with_errors');
    const byUser = Object.fromEntries(report.rows.map((r) => [r.username, r]));
    expect(report.rows[0]).toMatchObject({ row: 2, username: 'good.one', status: 'created' });
    expect(byUser.nomail).toMatchObject({ status: 'failed', message: expect.stringContaining('not a valid e-mail') });
    expect(byUser['brand.new']).toMatchObject({ status: 'failed', message: expect.stringContaining('needs a Name') });
    expect(report.rows[3]).toMatchObject({
      row: 5,
      status: 'failed',
      message: expect.stringContaining('duplicate of row 2'),
    });
    expect(byUser.roles).toMatchObject({ status: 'failed', message: expect.stringContaining('"Root", "Wizard"') });
    expect(byUser.err).toMatchObject({ status: 'failed', message: expect.stringContaining('#N/A') });
    expect(await user('nomail')).toBeUndefined(); // a failed row changes nothing
  });

  it('reads respelled, Portuguese and reordered headers', async () => {
    const file = await writeXlsx(path.join(dir, 'portugues.xlsx'), [
      [
        'Ativo',
        'Usuário',
        'Nome',
        'e mail',
        'Grupo de usuários',
        'Perfis',
        'Ignorar MFA',
        'Telefone',
        'Departamento',
        'Cost centre',
      ],
      [
        'Sim',
        'maria',
        'Maria Souza',
        'maria@example.com',
        'Finance',
        'auditor',
        'Não',
        '+55 11 91234-5678',
        'Financeiro',
        'CC-1',
      ],
    ]);
    const result = await pipe.run(file);
    const report = pipe.report(result);
    expect(report.counts).toMatchObject({ created: 1, failed: 0 });
    expect((report.warnings as string[]).join(' ')).toContain('Cost centre');
    expect(await user('maria')).toMatchObject({
      name: 'Maria Souza',
      phone: '+55 11 91234-5678',
      department: 'Financeiro',
      roles: ['Auditor'],
      groups: ['Finance'],
    });
  });

  it('reads a Windows-1252 CSV with semicolons', async () => {
    const file = writeCsv(
      path.join(dir, 'latin.csv'),
      [TEMPLATE, ['Conceição Araújo', 'conceicao', '', 'Produção', '', '', '', '', '', '']],
      { delimiter: ';', encoding: 'windows-1252' },
    );
    const report = pipe.report(await pipe.run(file));
    expect(report.counts).toMatchObject({ created: 1 });
    expect(await user('conceicao')).toMatchObject({ name: 'Conceição Araújo', department: 'Produção' });
  });

  it('uses formulas’ cached results and fails formulas with an error result', async () => {
    const file = await writeXlsx(path.join(dir, 'formulas.xlsx'), [
      TEMPLATE,
      userRow({
        name: { formula: 'CONCAT("Fo","rmula")', result: 'Formula' } as never,
        username: 'formula1',
        active: { formula: 'TRUE()', result: true } as never,
      }),
      userRow({
        name: 'Broken',
        username: 'formula2',
        email: { formula: 'VLOOKUP(A1,B:C,2,0)', result: { error: '#N/A' } } as never,
      }),
    ]);
    const report = pipe.report(await pipe.run(file));
    expect(report.rows.map((r) => r.status)).toEqual(['created', 'failed']);
    expect(await user('formula1')).toMatchObject({ name: 'Formula' });
  });

  it('does not write anything in a dry run, not even departments', async () => {
    const before = await snapshot(pipe.db);
    const imports = await pipe.db.knex('imports').count({ n: '*' });
    const file = writeCsv(path.join(dir, 'dry.csv'), [
      TEMPLATE,
      ['Dry Run', 'dry.run', 'a long password', 'Brand New Dept', '', '', '', '', '', ''],
      ['', 'bcosta', '', '', 'b@example.com', '', '', '', '', ''],
    ]);
    const result = await pipe.run(file, { dryRun: true });
    const report = pipe.report(result);
    expect(report).toMatchObject({ importId: null, dryRun: true });
    expect(report.rows.map((r) => [r.username, r.status, r.changes])).toEqual([
      ['dry.run', 'would-create', ['name', 'department', 'active', 'ignoreMfa', 'password']],
      ['bcosta', 'would-update', ['email']],
    ]);
    expect(await snapshot(pipe.db)).toEqual(before);
    expect(await pipe.db.knex('imports').count({ n: '*' })).toEqual(imports);
  });

  it('rejects a file that is not a spreadsheet with a report saying what it is', async () => {
    const file = path.join(dir, 'legacy.xlsx');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'just some text, not a workbook\n\u0000\u0001binary');
    const result = await pipe.run(file);
    expect(result.exitCode).toBe(2);
    const report = pipe.report(result);
    expect(report).toMatchObject({ outcome: 'rejected', error: { code: expect.stringMatching(/^FILE_/) }, rows: [] });
    expect(
      await pipe.db
        .knex('imports')
        .where('id', report.importId as number)
        .first(),
    ).toMatchObject({ status: 'rejected' });
  });
});
