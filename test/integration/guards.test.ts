/**
 * Plan before write (SPEC §9): each guard trips above its limit and not at it, a held file writes
 * nothing at all, `allow` applies it and is audited, a dry run reports what would trip, and
 * safety.enabled false turns it all off.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getImport } from '../../src/db/repositories/imports.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, snapshot, userEvents, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, type Cell } from '../fixtures/build.js';

const LIMITS = { deactivate: 2, mfaBypass: 2, privilegedGrant: 1, privilegedRevoke: 1, passwordReset: 2 };
const STAFF = ['ana', 'ben', 'cleo', 'dan', 'eve', 'fay'];

describeEachDatabase('guards: plan before write', (database) => {
  let pipe: TestPipeline;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url, {
      safety: { limits: LIMITS, privileged: { roles: ['Administrator'], groups: ['IT'] } },
    });
    dir = fixtureDir();
    // The first load: creations alone never trip a guard (no privileged role here).
    const first = await pipe.run(
      file(
        STAFF.map((u) => userRow({ name: u.toUpperCase(), username: u, password: 'initial-secret-1' })),
        'first',
      ),
    );
    expect(first.summary.outcome).toBe('imported');
    expect(first.summary.counts.created).toBe(STAFF.length);
    expect(first.summary.guards).toEqual([]);
  });
  afterAll(async () => pipe?.close());

  const file = (rows: Cell[][], name = `f${++n}`) =>
    writeCsv(path.join(dir, `${name}.csv`), [TEMPLATE, ...rows] as string[][]);
  const rowsFor = (users: readonly string[], fields: Parameters<typeof userRow>[0]) =>
    users.map((username) => userRow({ username, ...fields }));

  /** Imports the rows expecting a hold: nothing may change, and the report says why. */
  async function expectHeld(rows: Cell[][], guard: string, planned: number) {
    const before = await snapshot(pipe.db);
    const events = await userEvents(pipe.db);
    const result = await pipe.run(file(rows));
    expect(result.summary.outcome).toBe('held');
    expect(result.exitCode).toBe(4);
    const report = pipe.report(result);
    expect(report.outcome).toBe('held');
    const trips = report.guards as Array<{ guard: string; limit: number; planned: number; users: string[] }>;
    expect(trips.map((t) => t.guard)).toEqual([guard]);
    expect(trips[0]).toMatchObject({ limit: LIMITS[guard as keyof typeof LIMITS], planned });
    expect(trips[0]!.users).toHaveLength(planned);
    // Rows are reported as what the file would have done.
    expect(report.rows.every((row) => row.status !== 'created' && row.status !== 'updated')).toBe(true);
    expect(await snapshot(pipe.db)).toEqual(before);
    expect(await userEvents(pipe.db)).toBe(events);
    const register = await pipe.db.knex('imports').where('id', result.summary.importId!).first();
    expect(register.status).toBe('held');
    expect(JSON.parse(register.guards as string).tripped[0].guard).toBe(guard);
    expect((await getImport(pipe.db.knex, result.summary.importId!))?.guards).toEqual({
      tripped: [{ guard, limit: LIMITS[guard as keyof typeof LIMITS], planned }],
      allowed: [],
    });
    return result;
  }

  it('mfaBypass: 2 users turning Ignore MFA on applies, 3 are held', async () => {
    await expectHeld(rowsFor(['ana', 'ben', 'cleo'], { ignoreMfa: 'Yes' }), 'mfaBypass', 3);
    const ok = await pipe.run(file(rowsFor(['ana', 'ben'], { ignoreMfa: 'Yes' })));
    expect(ok.summary.outcome).toBe('imported');
    expect(ok.summary.counts.updated).toBe(2);
    // Back to No: turning it off is never guarded.
    expect((await pipe.run(file(rowsFor(['ana', 'ben'], { ignoreMfa: 'No' })))).summary.outcome).toBe('imported');
  });

  it('deactivate: 2 active users deactivated applies, 3 are held; inactive ones do not count', async () => {
    await expectHeld(rowsFor(['ana', 'ben', 'cleo'], { active: 'No' }), 'deactivate', 3);
    expect((await pipe.run(file(rowsFor(['ana', 'ben'], { active: 'No' })))).summary.outcome).toBe('imported');
    // ana and ben are inactive already: only cleo counts.
    expect((await pipe.run(file(rowsFor(['ana', 'ben', 'cleo'], { active: 'No' })))).summary.outcome).toBe('imported');
    expect((await pipe.run(file(rowsFor(['ana', 'ben', 'cleo'], { active: 'Yes' })))).summary.outcome).toBe('imported');
  });

  it('passwordReset: counts existing users whose password changes, not the same password again', async () => {
    await expectHeld(rowsFor(['ana', 'ben', 'cleo'], { password: 'rotated-secret-2' }), 'passwordReset', 3);
    // The same password as stored is no change, so it does not count.
    expect(
      (await pipe.run(file(rowsFor(['ana', 'ben', 'cleo'], { password: 'initial-secret-1' })))).summary.outcome,
    ).toBe('imported');
  });

  it('privilegedGrant counts new users too; privilegedRevoke counts existing users losing one', async () => {
    const grant = [
      userRow({ name: 'New One', username: 'new1', roles: 'Administrator' }),
      userRow({ username: 'ana', groups: 'IT' }),
    ];
    await expectHeld(grant, 'privilegedGrant', 2);
    expect((await pipe.run(file([userRow({ username: 'ana', roles: 'Administrator' })]))).summary.outcome).toBe(
      'imported',
    );
    expect((await pipe.run(file([userRow({ username: 'ben', roles: 'Administrator, Viewer' })]))).summary.outcome).toBe(
      'imported',
    );
    await expectHeld(rowsFor(['ana', 'ben'], { roles: 'Viewer' }), 'privilegedRevoke', 2);
    expect((await pipe.run(file(rowsFor(['ana'], { roles: 'Viewer' })))).summary.outcome).toBe('imported');
  });

  it('a dry run reports the guards that would trip and keeps its own outcome', async () => {
    const before = await snapshot(pipe.db);
    const result = await pipe.run(file(rowsFor(['cleo', 'dan', 'eve'], { ignoreMfa: 'Yes' })), { dryRun: true });
    expect(result.summary.outcome).toBe('imported');
    expect(result.summary.guards?.map((t) => t.guard)).toEqual(['mfaBypass']);
    expect(pipe.report(result).guards).toHaveLength(1);
    expect(await snapshot(pipe.db)).toEqual(before);
  });

  it('allow applies despite the guard and audits the override before any change', async () => {
    const result = await pipe.run(file(rowsFor(['cleo', 'dan', 'eve'], { ignoreMfa: 'Yes' })), {
      allow: new Set(['mfaBypass'] as const),
    });
    expect(result.summary.outcome).toBe('imported');
    expect(result.summary.counts.updated).toBe(3);
    expect(result.summary.allowed).toEqual(['mfaBypass']);
    expect((await getImport(pipe.db.knex, result.summary.importId!))?.guards).toEqual({
      tripped: [{ guard: 'mfaBypass', limit: 2, planned: 3 }],
      allowed: ['mfaBypass'],
    });
    const events = await pipe.db.knex('audit_events').where('import_id', result.summary.importId!).orderBy('id');
    const allowed = events.find((e) => e.action === 'import.guards_allowed');
    expect(JSON.parse(allowed.changes as string)).toMatchObject({
      allowed: ['mfaBypass'],
      guards: [{ guard: 'mfaBypass', limit: 2, planned: 3 }],
    });
    const firstUserEvent = events.findIndex((e) => String(e.action).startsWith('user.'));
    expect(events.indexOf(allowed)).toBeLessThan(firstUserEvent);
    // Allowing one guard does not allow another.
    await expectHeld(rowsFor(['cleo', 'dan', 'eve'], { active: 'No' }), 'deactivate', 3);
  });

  it('applies the plan it checked: a planned user changed meanwhile fails the import as a transient conflict, and the retry applies', async () => {
    const fayName = async () => (await pipe.db.knex('users').where('username', 'fay').first('name')).name as string;
    const rows = [userRow({ username: 'fay', name: 'Fay Planned' }), userRow({ username: 'eve', name: 'EVE' })];
    // Someone else renames fay after the plan was checked, before its first write.
    const hooks = {
      afterPlan: async () => {
        await pipe.db.knex('users').where('username', 'fay').update({ name: 'Changed Meanwhile' });
      },
    };
    await expect(pipe.run(file(rows), { hooks })).rejects.toMatchObject({ code: 'DIRECTORY_CHANGED_DURING_IMPORT' });
    expect(await fayName()).toBe('Changed Meanwhile');
    const retry = await pipe.run(file(rows));
    expect(retry.summary.counts).toMatchObject({ updated: 1, unchanged: 1 });
    expect(await fayName()).toBe('Fay Planned');
    // A change to a user the plan leaves unchanged is no conflict: the plan writes nothing for it.
    const unchanged = {
      afterPlan: async () => {
        await pipe.db.knex('users').where('username', 'eve').update({ phone: '555' });
      },
    };
    const again = await pipe.run(
      file([userRow({ username: 'fay', name: 'Fay Again' }), userRow({ username: 'eve' })]),
      {
        hooks: unchanged,
      },
    );
    expect(again.summary.outcome).toBe('imported');
    expect(await fayName()).toBe('Fay Again');
  });

  it('holds the whole file when the guarded change is in its last batch, several batches in', async () => {
    const many = Array.from({ length: 2500 }, (_, i) => userRow({ name: `Bulk ${i}`, username: `bulk${i}` }));
    many.push(...rowsFor(['ana', 'ben', 'fay'], { active: 'No' }));
    const before = (await pipe.db.knex('users').count({ n: '*' }))[0]!.n;
    const result = await pipe.run(file(many));
    expect(result.summary.outcome).toBe('held');
    expect(result.summary.counts.created).toBe(2500); // what it would have done
    expect((await pipe.db.knex('users').count({ n: '*' }))[0]!.n).toBe(before);
  });
});

describeEachDatabase('guards: safety.enabled false', (database) => {
  let pipe: TestPipeline;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url, { safety: { enabled: false, limits: { mfaBypass: 0 } } });
  });
  afterAll(async () => pipe?.close());

  it('applies without planning, and reports no guards', async () => {
    const dir = fixtureDir();
    await pipe.run(writeCsv(path.join(dir, 'a.csv'), [TEMPLATE, userRow({ name: 'A', username: 'a' })] as string[][]));
    const result = await pipe.run(
      writeCsv(path.join(dir, 'b.csv'), [TEMPLATE, userRow({ username: 'a', ignoreMfa: 'Yes' })] as string[][]),
    );
    expect(result.summary.outcome).toBe('imported');
    expect(result.summary.guards).toBeUndefined();
    expect(pipe.report(result)).not.toHaveProperty('guards');
  });
});
