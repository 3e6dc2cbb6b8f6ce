import { copyFileSync, existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import ExcelJS from 'exceljs';
import knex from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { runUsersync } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, writeXlsx } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);

describeEachDatabase('daemon', (database) => {
  let daemon: DaemonHandle;
  let fixtures: string;
  const connect = () =>
    knex(
      database().kind === 'sqlite'
        ? { client: 'better-sqlite3', connection: { filename: database().url.slice(7) }, useNullAsDefault: true }
        : { client: 'mysql2', connection: database().url },
    );

  beforeAll(async () => {
    fixtures = fixtureDir();
    daemon = await startDaemon({
      databaseUrl: database().url,
      config: { catalog: { roles: ['Auditor', 'Viewer'], groups: ['IT'] } },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  const archived = (folder: 'archive' | 'error') => listFiles(path.join(daemon.folder(folder), today()));

  it('imports a file dropped in the inbox and archives it with both reports, answering /healthz and /metrics', async () => {
    const file = await writeXlsx(path.join(fixtures, 'drop.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Dee Drop', username: 'dee', roles: 'Auditor', groups: 'IT' }),
    ]);
    copyFileSync(file, path.join(daemon.folder('inbox'), 'users.xlsx'));
    await waitFor(() => archived('archive').some((f) => f.endsWith('_users.report.json')), 20_000, daemon.output);
    const names = archived('archive');
    const id = names.find((f) => f.endsWith('_users.xlsx'))?.split('_')[0];
    expect(names).toEqual(
      expect.arrayContaining([`${id}_users.xlsx`, `${id}_users.report.json`, `${id}_users.report.xlsx`]),
    );
    expect(listFiles(daemon.folder('inbox'))).toEqual([]);
    expect(listFiles(daemon.folder('processing')).filter((f) => !f.startsWith('.'))).toEqual([]);
    const report = JSON.parse(
      readFileSync(path.join(daemon.folder('archive'), today(), `${id}_users.report.json`), 'utf8'),
    ) as { importId: number; outcome: string };
    expect(report).toMatchObject({ importId: Number(id), outcome: 'imported' });
    const health = await daemon.health();
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      database: { reachable: true },
      watcher: { running: true },
      queue: { length: 0 },
      lastImport: { importId: Number(id), outcome: 'imported' },
    });
    const metrics = await daemon.metrics();
    expect(metrics).toMatch(/usersync_files_total\{outcome="imported"\} 1/);
    expect(metrics).toMatch(/usersync_rows_total\{outcome="created"\} 1/);
    expect(metrics).not.toContain('outcome="rows"'); // a total in the label would be counted twice by sum()
    expect(metrics).toContain('usersync_import_duration_seconds_bucket');
    expect(metrics).toContain('usersync_process_resident_memory_bytes');
  });

  it('leaves lock files, partial downloads, hidden and other files in the inbox untouched', async () => {
    const ignored = [
      '~$users.xlsx',
      '.~lock.users.xlsx#',
      'users.xlsx.tmp',
      'users.xlsx.part',
      'users.crdownload',
      '.hidden.xlsx',
      'notes.txt',
      'users.swp',
    ];
    for (const name of ignored) writeFileSync(path.join(daemon.folder('inbox'), name), 'x');
    const marker = writeCsv(path.join(daemon.folder('inbox'), 'marker.CSV'), [
      TEMPLATE,
      ['Mark', 'marker', '', '', '', '', '', '', '', ''],
    ]);
    await waitFor(() => archived('archive').some((f) => f.endsWith('_marker.CSV')), 20_000, daemon.output);
    expect(existsSync(marker)).toBe(false); // upper-case extension taken
    expect(listFiles(daemon.folder('inbox'))).toEqual([...ignored].sort());
  });

  it('waits for an incomplete zip up to watch.incompleteTimeoutMs, then rejects it to error/; failed rows go to error/; the same name twice gets two archives', async () => {
    writeFileSync(path.join(daemon.folder('inbox'), 'broken.xlsx'), 'PK\u0003\u0004 this zip ends here');
    await waitFor(() => archived('error').some((f) => f.endsWith('_broken.report.json')), 30_000, daemon.output);
    const bad = writeCsv(path.join(fixtures, 'bad.csv'), [
      TEMPLATE,
      ['', 'nobody-new', '', '', '', '', '', '', '', ''],
    ]);
    copyFileSync(bad, path.join(daemon.folder('inbox'), 'same.csv'));
    await waitFor(() => archived('error').some((f) => f.endsWith('_same.csv')), 20_000, daemon.output);
    const good = writeCsv(path.join(fixtures, 'good.csv'), [
      TEMPLATE,
      ['Good', 'good', '', '', '', '', '', '', '', ''],
    ]);
    copyFileSync(good, path.join(daemon.folder('inbox'), 'same.csv'));
    await waitFor(() => archived('archive').some((f) => f.endsWith('_same.csv')), 20_000, daemon.output);
    const report = JSON.parse(
      readFileSync(
        path.join(
          daemon.folder('error'),
          today(),
          archived('error').find((f) => f.endsWith('_broken.report.json'))!,
        ),
        'utf8',
      ),
    ) as { outcome: string; error: { code: string } };
    expect(report).toMatchObject({ outcome: 'rejected', error: { code: 'FILE_CORRUPT' } });
  });

  it('imports a file written slowly, with pauses longer than watch.stableMs, once and whole', async () => {
    const rows = [
      TEMPLATE,
      ...Array.from({ length: 3000 }, (_, i) =>
        userRow({ name: `Slow ${i}`, username: `slow${i}`, department: 'Slow Writers', email: `slow${i}@example.com` }),
      ),
    ];
    const whole = await writeXlsx(path.join(fixtures, 'slow.xlsx'), rows);
    const bytes = readFileSync(whole);
    const target = await open(path.join(daemon.folder('inbox'), 'slow.xlsx'), 'w');
    const parts = 4;
    for (let i = 0; i < parts; i++) {
      await target.write(
        bytes.subarray(Math.floor((i * bytes.length) / parts), Math.floor(((i + 1) * bytes.length) / parts)),
      );
      await target.sync();
      if (i < parts - 1) await new Promise((r) => setTimeout(r, 900)); // 3 × stableMs
    }
    await target.close();
    await waitFor(() => archived('archive').some((f) => f.endsWith('_slow.xlsx')), 30_000, daemon.output);
    expect(archived('error').filter((f) => f.includes('slow'))).toEqual([]);
    const db = connect();
    try {
      expect(Number((await db('users').where('username', 'like', 'slow%').count({ n: '*' }))[0]?.n)).toBe(3000);
      expect(Number((await db('imports').where('original_name', 'slow.xlsx').count({ n: '*' }))[0]?.n)).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('archives a file that carried passwords as a copy with the Password column emptied', async () => {
    const file = await writeXlsx(path.join(fixtures, 'secret.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Sam Secret', username: 'sam', password: 'Archive-Me-Not-42' }),
    ]);
    copyFileSync(file, path.join(daemon.folder('inbox'), 'secret.xlsx'));
    await waitFor(() => archived('archive').some((f) => f.endsWith('_secret.report.json')), 20_000, daemon.output);
    const copy = path.join(
      daemon.folder('archive'),
      today(),
      archived('archive').find((f) => f.endsWith('_secret.xlsx'))!,
    );
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(copy);
    const sheet = workbook.worksheets[0]!;
    expect(sheet.getRow(1).getCell(3).value).toBe('Password');
    expect(sheet.getRow(2).getCell(2).value).toBe('sam');
    expect(sheet.getRow(2).getCell(3).value ?? '').toBe('');
    expect(readFileSync(copy).toString('latin1')).not.toContain('Archive-Me-Not-42');
    const id = Number(path.basename(copy).split('_')[0]);
    const shown = await runUsersync(['imports', 'show', String(id), '--json'], {
      cwd: daemon.cwd,
      env: { USERSYNC_DATABASE_URL: database().url },
    });
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id,
      redacted: true,
      archivedSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      status: 'imported',
    });
    const recovered = await runUsersync(
      ['imports', 'recover', String(id), '--out', path.join(fixtures, 'recovered.xlsx')],
      { cwd: daemon.cwd, env: { USERSYNC_DATABASE_URL: database().url } },
    );
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toContain('redacted copy');
    expect(readFileSync(path.join(fixtures, 'recovered.xlsx')).equals(readFileSync(copy))).toBe(true);
  });

  it('exits 0 on SIGTERM, then takes the files present at start, oldest first', async () => {
    expect(await daemon.stop('SIGTERM')).toBe(0);
    const names = ['c-newest.csv', 'a-oldest.csv', 'b-middle.csv'];
    const times = [3000, 1000, 2000];
    names.forEach((name, i) => {
      const file = writeCsv(path.join(daemon.folder('inbox'), name), [
        TEMPLATE,
        ['Order', 'order.check', '', '', `${name.slice(0, 1)}@example.com`, '', '', '', '', ''],
      ]);
      const when = new Date(Date.now() - 100_000 + (times[i] ?? 0));
      utimesSync(file, when, when);
    });
    daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port });
    await waitFor(
      () => names.every((n) => archived('archive').some((f) => f.endsWith(`_${n}`))),
      30_000,
      daemon.output,
    );
    const idOf = (n: string) =>
      Number(
        archived('archive')
          .find((f) => f.endsWith(`_${n}`))!
          .split('_')[0],
      );
    expect(idOf('a-oldest.csv')).toBeLessThan(idOf('b-middle.csv'));
    expect(idOf('b-middle.csv')).toBeLessThan(idOf('c-newest.csv'));
    const db = connect();
    try {
      expect((await db('users').where('username', 'order.check').first())?.email).toBe('c@example.com'); // the later export wins
    } finally {
      await db.destroy();
    }
  });

  it('refuses to start a second daemon on the same folders', async () => {
    const second = await runUsersync(['start'], {
      cwd: daemon.cwd,
      env: { USERSYNC_DATABASE_URL: database().url, USERSYNC_HEALTH_PORT: '0' },
      timeoutMs: 20_000,
    });
    expect(second.code).toBe(3);
    expect(second.stderr).toContain('DAEMON_ALREADY_RUNNING');
  });
});
