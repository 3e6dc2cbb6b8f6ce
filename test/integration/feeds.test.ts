/**
 * Feeds (SPEC §8, first paragraph): every import — from the command line, from the inbox, from a
 * scheduled source — is recorded under its feed, in the register and in its reports.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);

interface Registered {
  id: number;
  originalName: string;
  feed: string | null;
  source: string;
  actor: string | null;
}

/** The xlsx report's Summary sheet, label → value. */
async function summarySheet(file: string): Promise<Map<unknown, unknown>> {
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(file);
  const lines = new Map<unknown, unknown>();
  book.getWorksheet('Summary')?.eachRow((row) => lines.set(row.getCell(1).value, row.getCell(2).value));
  return lines;
}

const FEEDS = [
  { name: 'workday', match: 'workday*.csv' },
  { name: 'payroll', match: 'payroll-export*.xlsx' },
];

describeEachDatabase('feeds', (database) => {
  let cwd: string;
  const usersync = (...args: string[]) => runUsersync(args, { cwd, env: { USERSYNC_DATABASE_URL: database().url } });
  const register = async (): Promise<Registered[]> => {
    const listed = await usersync('imports', 'list', '--json', '--limit', '0');
    expect(listed.code, listed.stderr).toBe(0);
    return JSON.parse(listed.stdout) as Registered[];
  };
  const registered = async (importId: number) => {
    const shown = await usersync('imports', 'show', String(importId), '--json');
    expect(shown.code, shown.stderr).toBe(0);
    return JSON.parse(shown.stdout) as Registered;
  };
  const csvOf = (name: string, username: string) =>
    writeCsv(path.join(cwd, name), [TEMPLATE, userRow({ name: `User ${username}`, username }) as string[]]);

  beforeAll(() => {
    cwd = makeWorkdir();
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({
        logs: { console: 'json' },
        import: { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
        catalog: { roles: [], groups: [] },
        feeds: FEEDS,
      }),
    );
  });

  it('records a command-line file under the feed its name matches, or the inbox, in the register and the reports', async () => {
    const matched = await usersync('import', csvOf('Workday-Dec.csv', 'wanda'), '--json');
    expect(matched.code, matched.stderr).toBe(0);
    const report = JSON.parse(matched.stdout) as Record<string, unknown>;
    expect(report.feed).toBe('workday');
    const keys = Object.keys(report);
    expect(keys.indexOf('feed')).toBe(keys.indexOf('actor') + 1); // right after actor
    expect((await registered(report.importId as number)).feed).toBe('workday');
    expect((await summarySheet(path.join(cwd, 'Workday-Dec.report.xlsx'))).get('Feed')).toBe('workday');

    const unmatched = await usersync('import', csvOf('staff.csv', 'sam'), '--json');
    expect(unmatched.code, unmatched.stderr).toBe(0);
    const inboxReport = JSON.parse(unmatched.stdout) as { importId: number; feed: string };
    expect(inboxReport.feed).toBe('inbox');
    expect((await registered(inboxReport.importId)).feed).toBe('inbox');
  });

  it('records the feed --feed names, whatever the file is called', async () => {
    const named = await usersync('import', csvOf('staff-2.csv', 'tess'), '--feed', 'PAYROLL', '--json');
    expect(named.code, named.stderr).toBe(0);
    const report = JSON.parse(named.stdout) as { importId: number; feed: string };
    expect(report.feed).toBe('payroll'); // the config's spelling
    expect((await registered(report.importId)).feed).toBe('payroll');

    const toInbox = await usersync('import', csvOf('workday-jan.csv', 'uma'), '--feed', 'inbox', '--json');
    expect(toInbox.code, toInbox.stderr).toBe(0);
    const inboxReport = JSON.parse(toInbox.stdout) as { importId: number; feed: string };
    expect(inboxReport.feed).toBe('inbox');
    expect((await registered(inboxReport.importId)).feed).toBe('inbox');

    const listed = await usersync('imports', 'list');
    const [head, ...lines] = listed.stdout.trim().split('\n');
    const column = head!.split(/\s+/).indexOf('FEED');
    expect(column).toBe(3);
    const feedOf = (id: number) => lines.find((l) => l.split(/\s+/)[0] === String(id))?.split(/\s+/)[column];
    expect(feedOf(report.importId)).toBe('payroll');
    expect(feedOf(inboxReport.importId)).toBe('inbox');
  });

  it('refuses an unknown --feed with exit 2, naming the feeds there are, and imports nothing', async () => {
    const before = await register();
    const file = csvOf('workday-feb.csv', 'vic');
    const result = await usersync('import', file, '--feed', 'nope');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('There is no feed named "nope". Feeds: inbox, workday, payroll');
    expect(result.stderr).toContain('FEED_NOT_FOUND');
    expect(await register()).toEqual(before);
    expect(readdirSync(cwd).filter((name) => name.startsWith('workday-feb'))).toEqual(['workday-feb.csv']); // no reports
    expect((await usersync('users', 'show', 'vic')).code).toBe(2);
  });

  describeDaemon();

  function describeDaemon() {
    let daemon: DaemonHandle;
    let source: string;
    beforeAll(async () => {
      const dir = fixtureDir();
      // The copy is named payroll_<stamp>.csv, which the payroll feed's glob (payroll-export*.xlsx) does not match.
      source = writeCsv(path.join(dir, 'payroll share.csv'), [
        TEMPLATE,
        userRow({ name: 'Pat Payroll', username: 'pat' }) as string[],
      ]);
      daemon = await startDaemon({
        databaseUrl: database().url,
        config: {
          catalog: { roles: [], groups: [] },
          feeds: FEEDS,
          schedule: { rescan: '', sources: [{ name: 'payroll', path: source, cron: '*/1 * * * * *' }] },
        },
      });
    });
    afterAll(async () => {
      await daemon?.stop();
    });
    const archivedReport = (pattern: RegExp) =>
      listFiles(path.join(daemon.folder('archive'), today())).find((f) => pattern.test(f));

    it('daemon: registers a file matching a feed’s glob under that feed', async () => {
      copyFileSync(csvOf('wd.csv', 'wes'), path.join(daemon.folder('inbox'), 'WORKDAY-export.csv'));
      const name = (await waitFor(() => archivedReport(/_WORKDAY-export\.report\.json$/), 20_000, daemon.output))!;
      const report = JSON.parse(readFileSync(path.join(daemon.folder('archive'), today(), name), 'utf8')) as {
        importId: number;
        feed: string;
      };
      expect(report.feed).toBe('workday');
      expect(await registered(report.importId)).toMatchObject({
        originalName: 'WORKDAY-export.csv',
        feed: 'workday',
        actor: 'daemon:workday', // app/actor.ts: the daemon names the feed it imports for
      });
    });

    it('daemon: a file no feed matches is the inbox’s, imported by plain `daemon`', async () => {
      copyFileSync(csvOf('plain.csv', 'ozzy'), path.join(daemon.folder('inbox'), 'staff-dec.csv'));
      const name = (await waitFor(() => archivedReport(/_staff-dec\.report\.json$/), 20_000, daemon.output))!;
      const { importId } = JSON.parse(readFileSync(path.join(daemon.folder('archive'), today(), name), 'utf8')) as {
        importId: number;
      };
      expect(await registered(importId)).toMatchObject({ feed: 'inbox', actor: 'daemon' });
    });

    it('daemon: a scheduled source feeds the feed of its name', async () => {
      const name = (await waitFor(
        () => archivedReport(/_payroll_\d{8}T\d{6}Z\.report\.json$/),
        30_000,
        daemon.output,
      ))!;
      const report = JSON.parse(readFileSync(path.join(daemon.folder('archive'), today(), name), 'utf8')) as {
        importId: number;
        feed: string;
      };
      expect(report.feed).toBe('payroll');
      const record = await registered(report.importId);
      expect(record.originalName).toMatch(/^payroll_\d{8}T\d{6}Z\.csv$/);
      expect(record.feed).toBe('payroll');
      expect(record.actor).toBe('daemon:payroll');
      expect(existsSync(source)).toBe(true);
    });
  }
});
