import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync, usersyncCommandLine } from '../helpers/cli.js';
import { TEMPLATE, writeCsv } from '../fixtures/build.js';

describeEachDatabase('import, template and audit commands', (database) => {
  let cwd: string;
  const usersync = (...args: string[]) => runUsersync(args, { cwd, env: { USERSYNC_DATABASE_URL: database().url } });

  beforeAll(async () => {
    cwd = makeWorkdir();
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({
        logs: { console: 'json' },
        import: { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      }),
    );
    expect((await usersync('roles', 'add', 'Viewer')).code).toBe(0);
  });

  it('writes the template with the ten columns, Yes/No drop-downs and instructions, and will not overwrite it', async () => {
    const result = await usersync('template');
    expect(result.code).toBe(0);
    const file = path.join(cwd, 'import_users.xlsx');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(file);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['Users', 'Instructions']);
    expect(workbook.getWorksheet('Users')!.getRow(1).values).toEqual([undefined, ...TEMPLATE]);
    expect(JSON.stringify(workbook.getWorksheet('Instructions')!.getSheetValues())).toContain('Viewer'); // lists the roles that exist
    const again = await usersync('template');
    // An existing file is a usage error (exit 2) that says what to do, not an I/O fault.
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists; use --force to replace it or --out to write another file');
    expect(again.stderr).toContain('OUTPUT_EXISTS');
    expect(again.stderr).not.toContain('disk');
  });

  it('imports the template file dropped straight back: no data rows is a rejection (exit 2)', async () => {
    const result = await usersync('import', 'import_users.xlsx', '--json');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'rejected', error: { code: 'FILE_NO_DATA_ROWS' } });
  });

  it('exits 0, 1 and 2 by the worst file, printing an array for several files with --json', async () => {
    const good = writeCsv(path.join(cwd, 'good.csv'), [
      TEMPLATE,
      ['Gina', 'gina', 'long enough pw', '', '', '', '', '', 'viewer', ''],
    ]);
    const bad = writeCsv(path.join(cwd, 'bad.csv'), [TEMPLATE, ['Hal', 'hal', '', '', 'nope', '', '', '', '', '']]);
    expect((await usersync('import', good)).code).toBe(0);
    const both = await usersync('import', good, bad, '--json', '--report-dir', path.join(cwd, 'reports'));
    expect(both.code).toBe(1);
    const reports = JSON.parse(both.stdout) as Array<{
      outcome: string;
      counts: { unchanged: number; failed: number };
    }>;
    expect(reports.map((r) => r.outcome)).toEqual(['imported', 'imported_with_errors']);
    expect(reports[0]?.counts.unchanged).toBe(1);
    expect(existsSync(path.join(cwd, 'reports', 'bad.report.xlsx'))).toBe(true);
    const missing = await usersync('import', 'no-such-file.xlsx');
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('does not exist');
  });

  it('reads the audit trail back, filtered by user and import, oldest first', async () => {
    const all = JSON.parse((await usersync('audit', '--json')).stdout) as Array<{
      action: string;
      username: string | null;
      importId: number | null;
      changes: Record<string, unknown>;
    }>;
    expect(all.map((e) => e.action)).toContain('user.created');
    const gina = JSON.parse((await usersync('audit', '--user', 'GINA', '--json')).stdout) as typeof all;
    expect(gina).toHaveLength(1);
    expect(gina[0]).toMatchObject({
      action: 'user.created',
      changes: { password: { changed: true }, roles: { old: null, new: ['Viewer'] } },
    });
    const importId = gina[0]?.importId as number;
    const ofImport = JSON.parse((await usersync('audit', '--import', String(importId), '--json')).stdout) as typeof all;
    expect(ofImport.map((e) => e.action)).toEqual(['import.started', 'user.created', 'import.finished']);
    expect(JSON.parse((await usersync('audit', '--since', '2999-01-01', '--json')).stdout)).toEqual([]);
    const table = await usersync('audit', '--user', 'gina');
    expect(table.stdout).toMatch(/user\.created.*password changed/);
    expect((await usersync('audit', '--since', 'yesterday-ish')).code).toBe(2);
    // The audit log file holds the same events as JSON lines, and no password.
    const log = readFileSync(path.join(cwd, 'logs', 'audit.log'), 'utf8');
    expect(log).toContain('"action":"user.created"');
    expect(log).not.toContain('long enough pw');
  });

  it('shows a progress line with rows/s on a terminal, and none when the output is piped', async () => {
    const rows = [
      TEMPLATE,
      ...Array.from({ length: 5000 }, (_, i) => [`P ${i}`, `progress${i}`, '', '', '', '', '', '', '', '']),
    ];
    const file = writeCsv(path.join(cwd, 'progress.csv'), rows);
    const command = usersyncCommandLine(['import', file, '--dry-run']);
    // util-linux script(1) runs the command on a pseudo-terminal, as a person at a shell would.
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, USERSYNC_DATABASE_URL: database().url },
    });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/progress\.csv \| \d+ rows \| \d+ rows\/s/);
    const piped = await usersync('import', file, '--dry-run');
    expect(piped.stdout + piped.stderr).not.toContain('rows/s');
  });

  it('does a dry run through the CLI without touching the directory', async () => {
    const file = writeCsv(path.join(cwd, 'dry.csv'), [TEMPLATE, ['Ivy', 'ivy', '', 'Nowhere', '', '', '', '', '', '']]);
    const result = await usersync('import', file, '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('1 would be created');
    const users = JSON.parse((await usersync('users', 'list', '--json')).stdout) as Array<{ username: string }>;
    expect(users.map((u) => u.username)).not.toContain('ivy');
    expect(JSON.parse((await usersync('departments', 'list', '--json')).stdout)).toEqual([]);
  });

  it('stops before changing anything when the report folder cannot be written, and says which', async () => {
    const file = writeCsv(path.join(cwd, 'unreported.csv'), [
      TEMPLATE,
      ['Jo', 'jo', '', 'Nowhere', '', '', '', '', '', ''],
    ]);
    writeFileSync(path.join(cwd, 'not-a-folder'), '');
    const imports = async () => (JSON.parse((await usersync('imports', 'list', '--json')).stdout) as unknown[]).length;
    const before = await imports();
    const result = await usersync('import', file, '--report-dir', path.join(cwd, 'not-a-folder'));
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`Cannot create the report folder ${path.join(cwd, 'not-a-folder')}`);
    const users = JSON.parse((await usersync('users', 'list', '--json')).stdout) as Array<{ username: string }>;
    expect(users.map((u) => u.username)).not.toContain('jo');
    expect(await imports()).toBe(before); // not even registered
  });
});
