/**
 * `usersync imports revert` (SPEC §10), on both databases. The cases:
 * - every field an import changed goes back (name, e-mail, phone, department, active, Ignore MFA,
 *   roles, groups), a user it created is deactivated, a user a mirror deactivated is reactivated;
 * - a field changed again since is a conflict: listed with its value now and left alone, and
 *   `--force` sets it back;
 * - passwords are listed, not reverted;
 * - a dry run writes nothing; a second revert changes nothing; a revert of a revert restores;
 * - a revert that trips a guard is held (exit 4) with nothing written, `--allow` applies it;
 * - the register links both ways; every change is audited under the revert's import id;
 * - on the command line: an unknown id and an import that wrote nothing exit 2 saying so.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findReverts, getImport } from '../../src/db/repositories/imports.js';
import { getUser } from '../../src/db/repositories/users.js';
import { revertImport, type RevertRequest, type RevertResult } from '../../src/pipeline/revert/index.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { createTestPipeline, snapshot, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, type Cell } from '../fixtures/build.js';

type Report = Record<string, unknown> & {
  counts: Record<string, number>;
  rows: Array<{ row: number | null; username: string; status: string; changes: string[]; message?: string }>;
  revert: { revertsImportId: number; force: boolean; passwordsNotReverted: string[] };
};

describeEachDatabase('imports revert', (database) => {
  let pipe: TestPipeline;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url, {
      feeds: [{ name: 'hr', match: 'hr-*.csv', mode: 'mirror' }],
      safety: { limits: { deactivate: 3 } },
    });
    dir = fixtureDir();
  });
  afterAll(async () => pipe?.close());

  const importRows = async (rows: Cell[][], feed = 'inbox') => {
    const file = writeCsv(path.join(dir, `${feed === 'hr' ? 'hr' : 'f'}-${++n}.csv`), [
      TEMPLATE,
      ...rows,
    ] as string[][]);
    const result = await pipe.run(file, { feed });
    expect(['imported', 'imported_with_errors']).toContain(result.summary.outcome);
    return result.summary.importId!;
  };
  const revert = (importId: number, request: Partial<RevertRequest> = {}): Promise<RevertResult> =>
    revertImport(pipe.deps, {
      importId,
      dryRun: false,
      force: false,
      actor: 'tester@host',
      reportDir: dir,
      ...request,
    });
  const reportOf = (result: RevertResult) => JSON.parse(readFileSync(result.reports.jsonPath, 'utf8')) as Report;
  const user = async (username: string) => (await getUser(pipe.db.knex, username))!;

  /** ann's values before and after the bad import: every revertible field differs. */
  const annBefore = {
    name: 'Ann Old',
    email: 'ann@old.example',
    phone: '111',
    department: 'Sales',
    active: true,
    ignoreMfa: false,
    roles: ['Auditor'],
    groups: ['Sales'],
  };
  let bad: number;

  it('sets back every field the import changed, deactivates whom it created, lists conflicts and passwords', async () => {
    await importRows([
      userRow({
        name: 'Ann Old',
        username: 'ann',
        email: 'ann@old.example',
        phone: '111',
        department: 'Sales',
        roles: 'Auditor',
        groups: 'Sales',
      }),
      userRow({ name: 'Bob', username: 'bob', email: 'bob@old.example', password: 'first-secret-1' }),
      userRow({ name: 'Cid', username: 'cid' }),
    ]);
    // The bad import: every field of ann, bob's e-mail and password, a new user gus.
    bad = await importRows([
      userRow({
        name: 'Ann New',
        username: 'ann',
        email: 'ann@new.example',
        phone: '222',
        department: 'Finance',
        active: 'No',
        ignoreMfa: 'Yes',
        roles: 'Operator; Viewer',
        groups: 'IT',
      }),
      userRow({ username: 'bob', email: 'bob@bad.example', password: 'second-secret-2' }),
      userRow({ name: 'Gus', username: 'gus', roles: 'Viewer' }),
    ]);
    // bob's e-mail changes again afterwards: the revert must leave it alone.
    await importRows([userRow({ username: 'bob', email: 'bob@later.example' })]);

    // A dry run first: would-revert rows, nothing written.
    const before = await snapshot(pipe.db);
    const dry = await revert(bad, { dryRun: true });
    expect(dry.summary.importId).toBeNull();
    expect(await snapshot(pipe.db)).toEqual(before);
    expect(
      reportOf(dry)
        .rows.filter((r) => r.status === 'would-revert')
        .map((r) => r.username)
        .sort(),
    ).toEqual(['ann', 'gus']);

    const result = await revert(bad);
    expect(result.summary.outcome).toBe('imported_with_errors');
    expect(result.exitCode).toBe(1);
    const {
      username: _u,
      hasPassword: _h,
      passwordUpdatedAt: _p,
      createdAt: _c,
      updatedAt: _t,
      feed: _f,
      deactivatedReason: _d,
      ...ann
    } = await user('ann');
    expect(ann).toEqual(annBefore);
    expect((await user('gus')).active).toBe(false);
    expect((await user('bob')).email).toBe('bob@later.example');

    const report = reportOf(result);
    expect(report.counts).toMatchObject({ reverted: 2, conflicts: 1 });
    const annRow = report.rows.find((r) => r.username === 'ann')!;
    expect(annRow.status).toBe('reverted');
    expect([...annRow.changes].sort()).toEqual(
      ['active', 'department', 'email', 'groups', 'ignoreMfa', 'name', 'phone', 'roles'].sort(),
    );
    expect(report.rows.find((r) => r.username === 'gus')).toMatchObject({ status: 'reverted', changes: ['active'] });
    const conflict = report.rows.find((r) => r.status === 'conflict')!;
    expect(conflict).toMatchObject({ username: 'bob', changes: ['email'] });
    expect(conflict.message).toContain('"bob@later.example"');
    expect(report.revert).toEqual({ revertsImportId: bad, force: false, passwordsNotReverted: ['bob'] });
    expect(report.auditHead).toMatchObject({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.stringify(report)).not.toContain('second-secret-2');

    // The register links both ways; the changes are audited under the revert's id, old and new.
    const revertId = result.summary.importId!;
    expect(await getImport(pipe.db.knex, revertId)).toMatchObject({
      source: 'revert',
      revertsImportId: bad,
      status: 'imported_with_errors',
    });
    expect((await findReverts(pipe.db.knex, bad)).map((r) => r.id)).toEqual([revertId]);
    const events = await pipe.db.knex('audit_events').where({ import_id: revertId, username: 'ann' });
    expect(events).toHaveLength(1);
    expect(events[0].action).toBe('user.updated');
    expect(events[0].actor).toBe('tester@host');
    expect(JSON.parse(events[0].changes as string).email).toEqual({ old: 'ann@new.example', new: 'ann@old.example' });
  });

  it('changes nothing when the same import is reverted again', async () => {
    const before = await snapshot(pipe.db);
    const again = await revert(bad);
    expect(await snapshot(pipe.db)).toEqual(before);
    const report = reportOf(again);
    expect(report.counts).toMatchObject({ reverted: 0, unchanged: 2, conflicts: 1 });
  });

  it('--force sets back a field that changed again after the import', async () => {
    const forced = await revert(bad, { force: true });
    expect(forced.exitCode).toBe(0);
    expect((await user('bob')).email).toBe('bob@old.example');
    expect(reportOf(forced).counts).toMatchObject({ reverted: 1, conflicts: 0 });
  });

  it('a revert of the revert restores what the import had set', async () => {
    const first = (await findReverts(pipe.db.knex, bad))[0]!.id;
    const undo = await revert(first);
    expect(undo.exitCode).toBe(0);
    const ann = await user('ann');
    expect(ann).toMatchObject({
      name: 'Ann New',
      email: 'ann@new.example',
      department: 'Finance',
      active: false,
      ignoreMfa: true,
    });
    expect([...ann.roles].sort()).toEqual(['Operator', 'Viewer']);
    expect(ann.groups).toEqual(['IT']);
    expect((await user('gus')).active).toBe(true);
  });

  it('reactivates the users a mirror import deactivated', async () => {
    const roster = ['m1', 'm2', 'm3', 'm4', 'm5'].map((u) => userRow({ name: u.toUpperCase(), username: u }));
    await importRows(roster, 'hr');
    // m5 left out (a 20 % drop: at the rowDropPercent limit, not over it).
    const next = await importRows(roster.slice(0, 4), 'hr');
    expect(await user('m5')).toMatchObject({ active: false, deactivatedReason: 'absent' });
    const result = await revert(next);
    expect(result.exitCode).toBe(0);
    expect(await user('m5')).toMatchObject({ active: true, deactivatedReason: null });
    expect(reportOf(result).rows).toEqual([{ row: null, username: 'm5', status: 'reverted', changes: ['active'] }]);
  });

  it('holds a revert that trips a guard, writing nothing, and --allow applies it', async () => {
    const load = await importRows(['h1', 'h2', 'h3', 'h4'].map((u) => userRow({ name: u, username: u })));
    const before = await snapshot(pipe.db);
    const held = await revert(load);
    expect(held.exitCode).toBe(4);
    expect(held.summary.outcome).toBe('held');
    expect(held.summary.guards?.[0]).toMatchObject({ guard: 'deactivate', limit: 3, planned: 4 });
    expect(await snapshot(pipe.db)).toEqual(before);
    expect((await getImport(pipe.db.knex, held.summary.importId!))?.status).toBe('held');
    const allowed = await revert(load, { allow: new Set(['deactivate']) });
    expect(allowed.exitCode).toBe(0);
    expect((await user('h4')).active).toBe(false);
  });

  it('leaves a user whose revert would grant a protected role as it is (ROW_PROTECTED_ROLE)', async () => {
    await importRows([userRow({ name: 'P1', username: 'p1', roles: 'Auditor' })]);
    const change = await importRows([userRow({ username: 'p1', roles: 'Viewer' })]);
    // Auditor became protected after the import: giving it back is what a revert may not do either.
    const guarded = await createTestPipeline(database().url, { safety: { protectedRoles: ['Auditor'] } });
    try {
      const result = await revertImport(guarded.deps, {
        importId: change,
        dryRun: false,
        force: false,
        actor: 'tester@host',
        reportDir: dir,
      });
      expect(result.exitCode).toBe(1);
      expect(reportOf(result).rows).toEqual([
        expect.objectContaining({ username: 'p1', status: 'failed', code: 'ROW_PROTECTED_ROLE' }),
      ]);
      expect((await user('p1')).roles).toEqual(['Viewer']);
    } finally {
      await guarded.close();
    }
  });

  it('on the command line: an unknown import or one that wrote nothing exits 2 saying what to do', async () => {
    const cwd = makeWorkdir();
    const env = { USERSYNC_DATABASE_URL: database().url };
    const unknown = await runUsersync(['imports', 'revert', '99999'], { cwd, env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No import has the id 99999');
    const heldId = (await pipe.db.knex('imports').where({ status: 'held' }).first('id')) as { id: number };
    const notApplied = await runUsersync(['imports', 'revert', String(heldId.id)], { cwd, env });
    expect(notApplied.code).toBe(2);
    expect(notApplied.stderr).toContain(`Import ${heldId.id} cannot be reverted`);
    const show = await runUsersync(['imports', 'show', String(bad), '--json'], { cwd, env });
    expect((JSON.parse(show.stdout) as { revertedBy: number[] }).revertedBy).toHaveLength(3);
    // The command itself, as an operator runs it: a dry run prints the report and writes nothing.
    const before = await pipe.db.knex('audit_events').count({ n: '*' });
    const dry = await runUsersync(['imports', 'revert', String(bad), '--dry-run', '--json', '--report-dir', dir], {
      cwd,
      env,
    });
    expect([0, 1], dry.stderr).toContain(dry.code);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, revert: { revertsImportId: bad } });
    expect(await pipe.db.knex('audit_events').count({ n: '*' })).toEqual(before);
    // Every revert's events went into the audit chain like an import's.
    const verified = await runUsersync(['audit', 'verify', '--json'], { cwd, env });
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
  });
});
