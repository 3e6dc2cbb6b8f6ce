/**
 * Holds end to end (SPEC §9 "What a hold looks like", "Deciding a hold"), with a real daemon and
 * the real command line: a file that trips a guard waits in held/ with nothing written, and
 * `usersync holds` lists, shows, approves (daemon running, or not) and declines it.
 *
 * Each case uses a feed of its own (files named `<feed>-…`), so that "a newer file of the same
 * feed was applied since" is true only where a case makes it so.
 */
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { runUsersync } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { scanFiles, walkFiles } from '../helpers/secrets.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, type Cell } from '../fixtures/build.js';

const FEEDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
/** In every held file, for a user it would create: it must reach no report, log or decided copy. */
const PASSWORD = 'Held-Plain-Secret-7Q4x';
const STABLE_MS = 300;
const today = () => new Date().toISOString().slice(0, 10);

interface HoldView {
  id: number;
  file: string;
  feed: string;
  guards: Array<{ guard: string; limit: number; planned: number; users: string[] }>;
  decision: string | null;
}

describeEachDatabase('holds', (database) => {
  let daemon: DaemonHandle;
  let db: Knex;
  let fixtures: string;
  const held = () => path.join(daemon.cwd, 'held');
  const usersync = (...args: string[]) =>
    runUsersync(args, { cwd: daemon.cwd, env: { USERSYNC_DATABASE_URL: database().url } });

  beforeAll(async () => {
    fixtures = fixtureDir();
    daemon = await startDaemon({
      databaseUrl: database().url,
      config: {
        watch: { stableMs: STABLE_MS, incompleteTimeoutMs: 3000 },
        safety: { limits: { mfaBypass: 2, passwordReset: 2 } },
        feeds: FEEDS.map((name) => ({ name, match: `${name}-*` })),
      },
    });
    db = knex(
      database().kind === 'sqlite'
        ? { client: 'better-sqlite3', connection: { filename: database().url.slice(7) }, useNullAsDefault: true }
        : { client: 'mysql2', connection: database().url },
    );
    // Every feed's five users; the fourth of beta and eta already bypasses MFA (the re-hold cases).
    for (const feed of FEEDS) {
      const rows = [1, 2, 3, 4, 5].map((i) =>
        userRow({
          name: `${feed} ${i}`,
          username: `${feed}${i}`,
          ignoreMfa: (feed === 'beta' || feed === 'eta') && i === 4 ? 'Yes' : 'No',
        }),
      );
      await drop(`${feed}-seed.csv`, rows, 'archive');
    }
  }, 120_000);
  afterAll(async () => {
    await daemon?.stop();
    await db?.destroy();
  });

  /** Drops a CSV in the inbox and waits for it in `to`; returns its import id. */
  async function drop(name: string, rows: Cell[][], to: 'archive' | 'error' | 'held'): Promise<number> {
    const file = writeCsv(path.join(fixtures, name), [TEMPLATE, ...rows] as string[][]);
    writeCsv(path.join(daemon.folder('inbox'), name), readFileSync(file));
    const folder = to === 'held' ? held() : path.join(daemon.folder(to), today());
    // The file and its two reports are moved one after another: all three, before anything is checked.
    const found = await waitFor(
      () =>
        listFiles(folder).find(
          (f) =>
            f.endsWith(`_${name}`) &&
            existsSync(path.join(folder, reportOf(f))) &&
            existsSync(path.join(folder, reportOf(f).replace(/\.json$/, '.xlsx'))),
        ),
      20_000,
      daemon.output,
    );
    return Number(found!.split('_')[0]);
  }
  const reportOf = (fileName: string) => fileName.replace(/\.csv$/, '.report.json');

  /** The held file: Ignore MFA turned on for three users (limit 2), and a new user with a password. */
  const heldRows = (feed: string, users = [1, 2, 3]) => [
    ...users.map((i) => userRow({ username: `${feed}${i}`, ignoreMfa: 'Yes' })),
    userRow({ name: `New ${feed}`, username: `${feed}new`, password: PASSWORD }),
  ];

  const register = async (id: number) => (await db('imports').where('id', id).first()) as Record<string, unknown>;
  const usersOf = async (feed: string) =>
    (
      await db('users')
        .where('username', 'like', `${feed}%`)
        .orderBy('username')
        .select('username', 'ignore_mfa', 'password_hash')
    ).map((u) => ({ username: u.username as string, mfa: Boolean(u.ignore_mfa), password: u.password_hash !== null }));
  /** Everything an import may write, for "nothing was written". */
  const directory = async () => ({
    users: await db('users').select('*').orderBy('id'),
    departments: await db('departments').select('*').orderBy('id'),
    roles: await db('roles').select('*').orderBy('id'),
    groups: await db('user_groups').select('*').orderBy('id'),
    userRoles: await db('user_roles').select('*').orderBy(['user_id', 'role_id']),
    members: await db('user_group_members').select('*').orderBy(['user_id', 'group_id']),
    userEvents: await db('audit_events').where('action', 'like', 'user.%').count({ n: '*' }),
  });
  const eventOf = async (action: string, importId: number) => {
    const row = await db('audit_events').where({ action, import_id: importId }).first();
    return row
      ? { actor: row.actor as string, changes: JSON.parse(row.changes as string) as Record<string, unknown> }
      : undefined;
  };
  const holdsJson = async (): Promise<HoldView[]> => {
    const listed = await usersync('holds', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    return JSON.parse(listed.stdout) as HoldView[];
  };
  const leftInHeld = (holdId: number) => listFiles(held()).filter((f) => f.startsWith(`${holdId}_`));
  const metric = (text: string, series: string) =>
    Number(
      text
        .split('\n')
        .find((line) => line.startsWith(`${series} `))
        ?.split(' ')[1],
    );

  let alphaHold = 0;

  it('holds a file that trips a guard in held/ (0700, files 0600) with its reports, writes nothing, and says so in the log, /healthz and /metrics', async () => {
    const before = await directory();
    alphaHold = await drop('alpha-held.csv', heldRows('alpha'), 'held');
    expect(listFiles(held()).sort()).toEqual(
      [
        `${alphaHold}_alpha-held.csv`,
        `${alphaHold}_alpha-held.report.json`,
        `${alphaHold}_alpha-held.report.xlsx`,
      ].sort(),
    );
    expect(statSync(held()).mode & 0o777).toBe(0o700);
    for (const file of walkFiles(held())) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
    // The held copy keeps its passwords: it must still be applied when approved.
    expect(readFileSync(path.join(held(), `${alphaHold}_alpha-held.csv`), 'utf8')).toContain(PASSWORD);

    expect(await register(alphaHold)).toMatchObject({
      status: 'held',
      feed: 'alpha',
      decision: null,
      resolved_by: null,
    });
    expect(await directory()).toEqual(before);
    const report = JSON.parse(readFileSync(path.join(held(), `${alphaHold}_alpha-held.report.json`), 'utf8')) as {
      outcome: string;
      guards: HoldView['guards'];
      counts: { created: number; updated: number };
    };
    expect(report.outcome).toBe('held');
    expect(report.guards).toEqual([
      { guard: 'mfaBypass', limit: 2, planned: 3, users: ['alpha1', 'alpha2', 'alpha3'] },
    ]);
    expect(report.counts).toMatchObject({ created: 1, updated: 3 }); // what it would have done

    // The log line follows the move into held/: under load it arrives a moment after the file.
    await waitFor(() => daemon.output().includes('"import.held"'), 10_000, daemon.output);
    const warning = daemon
      .output()
      .split('\n')
      .filter((line) => line.includes('"import.held"'))
      .map((line) => JSON.parse(line) as { level: string; importId?: number });
    expect(warning.map((w) => w.level)).toEqual(['warn']);
    // It keeps its passwords on purpose: no warning that it could not be redacted.
    expect(daemon.output()).not.toContain('file.not_redacted');

    const health = await daemon.health();
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', held: 1 });
    const metrics = await daemon.metrics();
    expect(metric(metrics, 'usersync_held_imports')).toBe(1);
    expect(metric(metrics, 'usersync_guard_trips_total{guard="mfaBypass"}')).toBe(1);
    expect(metric(metrics, 'usersync_guard_trips_total{guard="deactivate"}')).toBe(0);
    expect(metric(metrics, 'usersync_files_total{outcome="held"}')).toBe(1);
    // Its counts are what it would have done: its rows count once it is applied, not now.
    expect(metric(metrics, 'usersync_rows_total{outcome="created"}')).toBe(FEEDS.length * 5);
    expect(metric(metrics, 'usersync_rows_total{outcome="updated"}')).toBe(0);
  });

  it('lists the hold with its guards (text and --json) and shows its held report', async () => {
    const listed = await usersync('holds', 'list');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^\\s*${alphaHold}\\s.*alpha\\s+alpha-held\\.csv\\s+\\[mfaBypass 3>2\\]\\s+waiting for a decision$`,
        'm',
      ),
    );
    expect(await holdsJson()).toEqual([
      expect.objectContaining({
        id: alphaHold,
        file: 'alpha-held.csv',
        feed: 'alpha',
        decision: null,
        guards: [expect.objectContaining({ guard: 'mfaBypass', planned: 3, limit: 2 })],
      }),
    ]);

    const shown = await usersync('holds', 'show', String(alphaHold));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('alpha-held.csv');
    expect(shown.stdout).toMatch(/mfaBypass: 3 .*\(limit 2\); first: alpha1, alpha2, alpha3/);
    expect(shown.stdout).toContain(`usersync holds approve ${alphaHold}`);
    const json = await usersync('holds', 'show', String(alphaHold), '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: alphaHold, report: { outcome: 'held', importId: alphaHold } });
    const missing = await usersync('holds', 'show', '999999');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('HOLD_NOT_FOUND');
  });

  it('approve with a daemon running: the daemon applies it within watch.stableMs + 5 s, archives it redacted, and the register links both ways', async () => {
    const approved = await usersync(
      'holds',
      'approve',
      String(alphaHold),
      '--by',
      'alice',
      '--note',
      'checked with HR',
    );
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(approved.stdout).toContain('the running daemon applies it');
    const hold = await register(alphaHold);
    expect(hold).toMatchObject({ decision: 'approved', decided_by: 'alice', decision_note: 'checked with HR' });
    const applying = Number(hold.resolved_by);
    const applied = await register(applying);
    expect(applied).toMatchObject({ status: 'imported', source: 'approval', redacted: expect.anything() });
    expect(Number(applied.hold_id)).toBe(alphaHold);
    expect(Boolean(applied.redacted)).toBe(true);
    const took = Date.parse(applied.finished_at as string) - Date.parse(hold.decided_at as string);
    expect(took).toBeLessThan(STABLE_MS + 5000);

    const archived = path.join(daemon.folder('archive'), today());
    expect(listFiles(archived)).toEqual(
      expect.arrayContaining([`${applying}_alpha-held.csv`, `${applying}_alpha-held.report.json`]),
    );
    expect(applied.file_path).toBe(path.join(archived, `${applying}_alpha-held.csv`));
    expect(readFileSync(path.join(archived, `${applying}_alpha-held.csv`), 'utf8')).not.toContain(PASSWORD);
    // The hold's own reports follow the file (the daemon moves them just after the import closes).
    await waitFor(
      () => leftInHeld(alphaHold).length === 0,
      5000,
      () => leftInHeld(alphaHold).join('\n'),
    );
    expect(listFiles(archived)).toEqual(
      expect.arrayContaining([`${alphaHold}_alpha-held.report.json`, `${alphaHold}_alpha-held.report.xlsx`]),
    );
    expect((await register(alphaHold)).report_json_path).toBe(
      path.join(archived, `${alphaHold}_alpha-held.report.json`),
    );
    expect(await usersOf('alpha')).toEqual([
      { username: 'alpha1', mfa: true, password: false },
      { username: 'alpha2', mfa: true, password: false },
      { username: 'alpha3', mfa: true, password: false },
      { username: 'alpha4', mfa: false, password: false },
      { username: 'alpha5', mfa: false, password: false },
      { username: 'alphanew', mfa: false, password: true },
    ]);
    expect(await eventOf('import.approved', alphaHold)).toEqual({
      actor: 'alice',
      changes: expect.objectContaining({ heldImport: alphaHold, note: 'checked with HR' }),
    });
    expect(await holdsJson()).toEqual([]);
    const shown = await usersync('holds', 'show', String(alphaHold), '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ decision: 'approved', decidedBy: 'alice', resolvedBy: applying });
    expect((await usersync('holds', 'show', String(alphaHold))).stdout).toContain(
      `approved by alice; applied by import ${applying}`,
    );
    await waitFor(async () => (await daemon.health()).body.held === 0, 5000);
    expect(metric(await daemon.metrics(), 'usersync_held_imports')).toBe(0);
  });

  it('holds it again, as a new hold, when a guard counts more than when it was held', async () => {
    const hold = await drop('beta-held.csv', heldRows('beta', [1, 2, 3, 4]), 'held');
    expect((await holdsJson()).find((h) => h.id === hold)?.guards[0]?.planned).toBe(3); // beta4 bypasses MFA already
    // Another feed turns beta4's bypass off: the held file would now turn it on for four.
    await drop('other-beta4.csv', [userRow({ username: 'beta4', ignoreMfa: 'No' })], 'archive');
    const before = await directory();
    const approved = await usersync('holds', 'approve', String(hold));
    expect(approved.code, approved.stdout + approved.stderr).toBe(4);
    const again = Number((await register(hold)).resolved_by);
    expect(again).toBeGreaterThan(hold);
    expect(approved.stdout).toContain(`held again as import ${again}`);
    expect(await register(again)).toMatchObject({ status: 'held', decision: null, resolved_by: null });
    expect(Number((await register(again)).hold_id)).toBe(hold);
    expect(await directory()).toEqual(before);
    const open = await holdsJson();
    expect(open.map((h) => h.id)).toEqual([again]);
    expect(open[0]!.guards[0]).toMatchObject({ guard: 'mfaBypass', planned: 4 });
    expect(listFiles(held())).toEqual(
      expect.arrayContaining([`${again}_beta-held.csv`, `${again}_beta-held.report.xlsx`]),
    );
    // The old hold's reports leave held/ for error/: it was not applied; the new hold has its own.
    await waitFor(
      () => leftInHeld(hold).length === 0,
      5000,
      () => leftInHeld(hold).join('\n'),
    );
    expect(listFiles(path.join(daemon.folder('error'), today()))).toEqual(
      expect.arrayContaining([`${hold}_beta-held.report.json`, `${hold}_beta-held.report.xlsx`]),
    );
    // The new hold is declined, so the file does not wait in held/ for the rest of the suite.
    expect((await usersync('holds', 'decline', String(again))).code).toBe(0);
  });

  it('refuses (exit 2, HOLD_OUTDATED) when a newer file of the feed was applied since; --force applies it anyway', async () => {
    const hold = await drop('gamma-held.csv', heldRows('gamma'), 'held');
    const newer = await drop('gamma-newer.csv', [userRow({ username: 'gamma5', name: 'Gamma Five' })], 'archive');
    const refused = await usersync('holds', 'approve', String(hold));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('HOLD_OUTDATED');
    expect(refused.stderr).toContain(`Import ${newer} (gamma-newer.csv)`);
    expect(await register(hold)).toMatchObject({ decision: null, resolved_by: null });
    expect(await eventOf('import.approved', hold)).toBeUndefined();

    const forced = await usersync('holds', 'approve', String(hold), '--force', '--by', 'dora');
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(await eventOf('import.approved', hold)).toMatchObject({ actor: 'dora', changes: { forcedPast: newer } });
    const applied = await register(Number((await register(hold)).resolved_by));
    expect(applied.status).toBe('imported');
    expect((await usersOf('gamma')).filter((u) => u.mfa).map((u) => u.username)).toEqual([
      'gamma1',
      'gamma2',
      'gamma3',
    ]);
  });

  it('refuses a hold whose held file changed (HOLD_FILE_CHANGED), and a decision taken twice (HOLD_DECIDED)', async () => {
    const hold = await drop('delta-held.csv', heldRows('delta'), 'held');
    appendFileSync(path.join(held(), `${hold}_delta-held.csv`), 'Someone,delta9,,,,,,Yes,,\r\n');
    const changed = await usersync('holds', 'approve', String(hold));
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain('HOLD_FILE_CHANGED');
    expect(await register(hold)).toMatchObject({ decision: null });
    expect((await usersOf('delta')).some((u) => u.mfa)).toBe(false);

    expect((await usersync('holds', 'decline', String(hold), '--by', 'erin')).code).toBe(0);
    for (const again of [
      ['decline', String(hold)],
      ['approve', String(hold)],
    ]) {
      const twice = await usersync('holds', ...again);
      expect(twice.code).toBe(2);
      expect(twice.stderr).toContain('HOLD_DECIDED');
      expect(twice.stderr).toContain('declined by erin');
    }
    expect(await register(hold)).toMatchObject({ decision: 'declined', decided_by: 'erin', resolved_by: null });
    expect((await usersync('holds', 'show', String(hold))).stdout).toMatch(/^State\s+declined by erin$/m);
  });

  it('declines an approval it can no longer carry out (the held file changed after it) instead of applying it', async () => {
    const hold = await drop('theta-held.csv', heldRows('theta'), 'held');
    const before = await usersOf('theta');
    // An approval recorded by a command that did not get to apply it; then the held file changes.
    appendFileSync(path.join(held(), `${hold}_theta-held.csv`), 'Someone,theta9,,,,,,Yes,,\r\n');
    await db('imports')
      .where('id', hold)
      .update({ decision: 'approved', decided_by: 'mallory', decided_at: new Date().toISOString() });
    await waitFor(async () => (await register(hold)).decision === 'declined', 20_000, daemon.output);
    expect(await register(hold)).toMatchObject({ decided_by: 'daemon', resolved_by: null });
    expect(String((await register(hold)).decision_note)).toMatch(
      /^approval not carried out: .* no longer the file that was approved/,
    );
    expect((await eventOf('import.declined', hold))?.changes).toMatchObject({ approvedBy: 'mallory' });
    expect(await usersOf('theta')).toEqual(before);
    await waitFor(() => leftInHeld(hold).length === 0, 10_000, daemon.output);
    expect(listFiles(path.join(daemon.folder('error'), today()))).toContain(`${hold}_theta-held.csv`);
    // Logged once the decline is done (the file moved): it may reach the pipe a moment later.
    await waitFor(() => daemon.output().includes('hold.approval_not_carried_out'), 10_000, daemon.output);
  });

  it('decline: the file goes to error/ redacted with its reports, import.declined is audited, nothing is applied', async () => {
    const hold = await drop('epsilon-held.csv', heldRows('epsilon'), 'held');
    const before = await directory();
    const declined = await usersync('holds', 'decline', String(hold), '--by', 'bob', '--note', 'not from HR');
    expect(declined.code, declined.stderr).toBe(0);
    const errors = path.join(daemon.folder('error'), today());
    const names = [`${hold}_epsilon-held.csv`, `${hold}_epsilon-held.report.json`, `${hold}_epsilon-held.report.xlsx`];
    expect(listFiles(errors)).toEqual(expect.arrayContaining(names));
    expect(declined.stdout).toContain(path.join(errors, names[0]!));
    expect(leftInHeld(hold)).toEqual([]);
    const file = readFileSync(path.join(errors, names[0]!), 'utf8');
    expect(file).toContain('epsilonnew');
    expect(file).not.toContain(PASSWORD);
    expect(await register(hold)).toMatchObject({
      status: 'held',
      decision: 'declined',
      file_path: path.join(errors, names[0]!),
    });
    expect(await eventOf('import.declined', hold)).toEqual({
      actor: 'bob',
      changes: expect.objectContaining({ heldImport: hold, note: 'not from HR' }),
    });
    expect(await directory()).toEqual(before);
    expect(await db('imports').where('hold_id', hold).count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('approving a file held again also lets through the guards approved before, which it no longer lists', async () => {
    // Two guards trip: Ignore MFA for three users, and three existing users' passwords.
    const rows = [
      ...[1, 2, 3].map((i) => userRow({ username: `eta${i}`, ignoreMfa: 'Yes', password: PASSWORD })),
      userRow({ username: 'eta4', ignoreMfa: 'Yes' }),
    ];
    const first = await drop('eta-held.csv', rows, 'held');
    expect((await holdsJson()).find((h) => h.id === first)?.guards.map((g) => [g.guard, g.planned])).toEqual([
      ['mfaBypass', 3],
      ['passwordReset', 3],
    ]);
    await drop('other-eta4.csv', [userRow({ username: 'eta4', ignoreMfa: 'No' })], 'archive');
    const again = await usersync('holds', 'approve', String(first));
    expect(again.code, again.stdout + again.stderr).toBe(4);
    const second = Number((await register(first)).resolved_by);
    expect((await holdsJson()).map((h) => h.id)).toEqual([second]);
    // Approving the new hold approves the file: passwordReset was approved at 3 and still counts 3.
    const approved = await usersync('holds', 'approve', String(second));
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect((await register(Number((await register(second)).resolved_by))).status).toBe('imported');
    expect((await usersOf('eta')).filter((u) => u.mfa).map((u) => u.username)).toEqual([
      'eta1',
      'eta2',
      'eta3',
      'eta4',
    ]);
    expect((await usersOf('eta')).filter((u) => u.password).map((u) => u.username)).toEqual(['eta1', 'eta2', 'eta3']);
  });

  it('approve with no daemon running: the command applies the file itself', async () => {
    const hold = await drop('zeta-held.csv', heldRows('zeta'), 'held');
    expect(await daemon.stop()).toBe(0);
    const approved = await usersync('holds', 'approve', String(hold), '--by', 'carol');
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(approved.stdout).toContain('no daemon runs, so it is applied now');
    const applying = Number((await register(hold)).resolved_by);
    expect(await register(applying)).toMatchObject({ status: 'imported', source: 'approval' });
    expect(Number((await register(applying)).hold_id)).toBe(hold);
    const archived = path.join(daemon.folder('archive'), today(), `${applying}_zeta-held.csv`);
    expect(readFileSync(archived, 'utf8')).not.toContain(PASSWORD);
    expect((await usersOf('zeta')).filter((u) => u.mfa || u.password).map((u) => u.username)).toEqual([
      'zeta1',
      'zeta2',
      'zeta3',
      'zetanew',
    ]);
    expect(leftInHeld(hold)).toEqual([]);
    expect(listFiles(path.dirname(archived))).toEqual(
      expect.arrayContaining([`${hold}_zeta-held.report.json`, `${hold}_zeta-held.report.xlsx`]),
    );
  });

  it('never lets the password reach a report, the logs, or a decided copy', async () => {
    const { files, hits } = await scanFiles(
      [held(), daemon.folder('archive'), daemon.folder('error'), path.join(daemon.cwd, 'logs')],
      [PASSWORD],
    );
    expect(files.some((f) => f.endsWith('.report.xlsx'))).toBe(true);
    expect(hits).toEqual([]);
    expect(daemon.output()).not.toContain(PASSWORD);
    expect(JSON.stringify(await db('audit_events').select('*'))).not.toContain(PASSWORD);
  });
});
