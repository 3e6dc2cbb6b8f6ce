/**
 * Mirror feeds (SPEC §8): a mirror file is its feed's complete roster. Each rule has a test that
 * fails without it: leavers deactivated (audited, reported, counted), failed rows present, other
 * feeds untouched, protected users kept, a truncated roster held, reactivation, Active = No on
 * reappearance, missingBeforeDeactivate, adoption, and a dry run.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, snapshot, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow } from '../fixtures/build.js';
import { writeCsv } from '../fixtures/build.js';

const roster = (usernames: readonly string[], fields: Parameters<typeof userRow>[0] = {}) =>
  usernames.map((username) => userRow({ name: username.toUpperCase(), username, ...fields }) as string[]);
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describeEachDatabase('mirror feeds', (database) => {
  let pipe: TestPipeline;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url, {
      feeds: [
        { name: 'hr', match: 'hr-*.csv', mode: 'mirror' },
        { name: 'payroll', match: 'pay-*.csv', mode: 'mirror', missingBeforeDeactivate: 2 },
      ],
      safety: { limits: { deactivate: 5, rowDropPercent: 40 }, protectedUsers: ['keeper'] },
    });
    dir = fixtureDir();
  });
  afterAll(async () => pipe?.close());

  const run = (feedPrefix: string, rows: string[][], request: Parameters<TestPipeline['run']>[1] = {}) => {
    const file = writeCsv(path.join(dir, `${feedPrefix}-${++n}.csv`), [TEMPLATE, ...rows]);
    return pipe.run(file, {
      feed: feedPrefix === 'hr' ? 'hr' : feedPrefix === 'pay' ? 'payroll' : 'inbox',
      ...request,
    });
  };
  const user = async (username: string) =>
    (await pipe.db.knex('users').where('username', username).first()) as
      | { active: number | boolean; feed: string | null; deactivated_reason: string | null; missing_count: number }
      | undefined;
  const isActive = async (username: string) => Boolean(Number((await user(username))?.active));

  it('deactivates the three leavers, audited, reported and counted; the others stay', async () => {
    const staff = names('h', 10);
    const first = await run('hr', roster(staff));
    expect(first.summary.counts).toMatchObject({ created: 10, deactivated: 0 });
    expect((await user('h1'))?.feed).toBe('hr');
    const second = await run('hr', roster(staff.slice(0, 7)));
    expect(second.summary.outcome).toBe('imported');
    expect(second.summary.counts).toMatchObject({ rows: 7, unchanged: 7, deactivated: 3 });
    for (const leaver of ['h8', 'h9', 'h10']) {
      expect(await isActive(leaver)).toBe(false);
      expect((await user(leaver))?.deactivated_reason).toBe('absent');
    }
    expect(await isActive('h7')).toBe(true);
    const report = pipe.report(second);
    expect(report.rows.filter((r) => r.status === 'deactivated')).toEqual([
      { row: null, username: 'h8', status: 'deactivated', changes: ['active'] },
      { row: null, username: 'h9', status: 'deactivated', changes: ['active'] },
      { row: null, username: 'h10', status: 'deactivated', changes: ['active'] },
    ]);
    const events = await pipe.db
      .knex('audit_events')
      .where({ import_id: second.summary.importId!, action: 'user.deactivated' });
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[0].changes as string)).toEqual({
      active: { old: true, new: false },
      reason: 'absent',
      feed: 'hr',
      missing: 1,
    });
    const register = await pipe.db.knex('imports').where('id', second.summary.importId!).first();
    expect(Number(register.deactivated)).toBe(3);
  });

  it('counts a failed row as present, and never touches another feed’s users or a protected one', async () => {
    await run('inbox', roster(['outsider']));
    // A protected user the feed owns (made by hand: no import may create one).
    await pipe.db.knex('users').insert({
      username: 'keeper',
      name: 'K',
      active: true,
      ignore_mfa: false,
      feed: 'hr',
      created_at: 'x',
      updated_at: 'x',
    });
    const staff = names('h', 7);
    const bad = roster(['h1'], { email: 'not-an-email' });
    const result = await run('hr', [...bad, ...roster(staff.slice(1))]);
    // h1's row failed but counts as present; keeper is absent but protected: nobody is deactivated.
    expect(result.summary.counts).toMatchObject({ failed: 1, deactivated: 0 });
    expect(await isActive('h1')).toBe(true);
    expect(await isActive('outsider')).toBe(true);
    expect(await isActive('keeper')).toBe(true);
  });

  it('holds a truncated roster: nothing written, no absence counted', async () => {
    const staff = names('t', 10);
    await run('pay', roster(staff));
    const before = await snapshot(pipe.db);
    const truncated = await run('pay', roster(staff.slice(0, 3)));
    expect(truncated.summary.outcome).toBe('held');
    expect(truncated.summary.guards?.map((g) => g.guard)).toEqual(['rowDropPercent']);
    expect(truncated.summary.counts.deactivated).toBe(0); // payroll deactivates on the second absence
    expect(await snapshot(pipe.db)).toEqual(before);
    expect((await user('t10'))?.missing_count).toBe(0);
  });

  it('deactivates after missingBeforeDeactivate absences in a row; a listing in between resets the count', async () => {
    const staff = names('t', 10);
    await run('pay', roster(staff.slice(0, 9)));
    expect(await isActive('t10')).toBe(true);
    expect(Number((await user('t10'))?.missing_count)).toBe(1);
    await run('pay', roster(staff));
    expect(Number((await user('t10'))?.missing_count)).toBe(0);
    await run('pay', roster(staff.slice(0, 9)));
    const second = await run('pay', roster(staff.slice(0, 9)));
    expect(second.summary.counts.deactivated).toBe(1);
    expect(await isActive('t10')).toBe(false);
  });

  it('reactivates a user deactivated for absence who is listed again, unless the row says Active = No', async () => {
    const back = await run('hr', roster([...names('h', 7), 'h8']).concat(roster(['h9'], { active: 'No' })));
    expect(await isActive('h8')).toBe(true);
    expect((await user('h8'))?.deactivated_reason).toBeNull();
    expect(await isActive('h9')).toBe(false);
    expect(back.summary.counts).toMatchObject({ updated: 1, deactivated: 0 }); // h8 back; h9 stays inactive; h10 is inactive already
  });

  it('adopts users of no feed that a mirror file lists, and leaves those it does not list alone', async () => {
    await pipe.db.knex('users').insert([
      { username: 'legacy1', name: 'L1', active: true, ignore_mfa: false, created_at: 'x', updated_at: 'x' },
      { username: 'legacy2', name: 'L2', active: true, ignore_mfa: false, created_at: 'x', updated_at: 'x' },
    ]);
    await run('hr', roster([...names('h', 8), 'legacy1']));
    expect((await user('legacy1'))?.feed).toBe('hr');
    expect((await user('legacy2'))?.feed).toBeNull();
    expect(await isActive('legacy2')).toBe(true);
  });

  it('a dry run reports would-deactivate rows and writes nothing', async () => {
    const before = await snapshot(pipe.db);
    const dry = await run('hr', roster(names('h', 7)), { dryRun: true });
    expect(dry.summary.counts.deactivated).toBe(2); // h8 and legacy1
    expect(
      pipe
        .report(dry)
        .rows.filter((r) => r.status === 'would-deactivate')
        .map((r) => r.username),
    ).toEqual(['h8', 'legacy1']);
    expect(await snapshot(pipe.db)).toEqual(before);
  });
});
