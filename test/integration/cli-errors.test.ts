import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, makeWorkdir, runUsersync } from '../helpers/cli.js';
import { writeLargeWorkbook } from '../fixtures/workbooks.js';

describe('command line error paths', () => {
  it('exits 2 naming the key when the configuration is bad', async () => {
    const cwd = makeWorkdir();
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(path.join(cwd, 'config', 'local.json'), JSON.stringify({ watch: { stableMs: 'soon' } }));
    const result = await runUsersync(['roles', 'list'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('watch.stableMs: expected a number, got "soon"');
  });

  it('exits 2 naming a bad environment variable value', async () => {
    const result = await runUsersync(['migrate'], { cwd: makeWorkdir(), env: { USERSYNC_LOG_LEVEL: 'loud' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('logs.level');
    expect(result.stderr).toContain('(from environment variable USERSYNC_LOG_LEVEL)');
  });

  it('exits 3 naming host and port, never the password, when the database is unreachable', async () => {
    const result = await runUsersync(['users', 'list'], {
      cwd: makeWorkdir(),
      env: { USERSYNC_DATABASE_URL: 'mysql://app:TopSecret99@127.0.0.1:1/usersync' },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('127.0.0.1:1');
    expect(result.stderr).toContain('DB_UNAVAILABLE');
    expect(result.stderr + result.stdout).not.toContain('TopSecret99');
  });

  it('exits 3, not hangs, when the database fails after the file began to be read ahead', async () => {
    // More rows than the reader's worker sends ahead: it then waits for the import, and kept the
    // process alive for ever when the database (unreachable here, or a failed migration) ended it
    // before the reader was handed over.
    const cwd = makeWorkdir();
    const file = await writeLargeWorkbook(path.join(cwd, 'users.xlsx'), 5000);
    const started = Date.now();
    const result = await runUsersync(['import', file], {
      cwd,
      env: { USERSYNC_DATABASE_URL: 'mysql://app@127.0.0.1:1/usersync' },
      timeoutMs: 20_000,
    });
    expect(result.stderr).toContain('DB_UNAVAILABLE');
    expect(result.code).toBe(3);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('exits 3 naming the log folder when it cannot be created, not as an unexpected error', async () => {
    const cwd = makeWorkdir();
    writeFileSync(path.join(cwd, 'a-file'), '');
    // A command that writes (one that only reads never creates the log folder).
    const result = await runUsersync(['roles', 'add', 'Auditor'], {
      cwd,
      env: { USERSYNC_LOG_DIR: path.join(cwd, 'a-file', 'logs') },
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`Cannot create the log folder ${path.join(cwd, 'a-file', 'logs')} (ENOTDIR)`);
    expect(result.stderr).not.toContain('unexpected error');
  });

  it('changes nothing when the audit log cannot be appended to, instead of losing its lines', async () => {
    const cwd = makeWorkdir();
    mkdirSync(path.join(cwd, 'logs', 'audit.log'), { recursive: true }); // a folder where the file should be
    const env = { USERSYNC_LOG_DIR: path.join(cwd, 'logs') };
    const added = await runUsersync(['roles', 'add', 'Auditor'], { cwd, env });
    expect(added.code).toBe(3);
    expect(added.stderr).toContain(`Cannot append to the log file ${path.join(cwd, 'logs', 'audit.log')} (EISDIR)`);
    const listed = await runUsersync(['roles', 'list'], { cwd, env }); // reads only: no audit log needed
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain('Auditor');
  });

  it.runIf(existsSync('/dev/full'))(
    'exits 3 when audit-log lines were lost, though the change itself is kept',
    async () => {
      const cwd = makeWorkdir();
      mkdirSync(path.join(cwd, 'logs'));
      symlinkSync('/dev/full', path.join(cwd, 'logs', 'audit.log')); // every write: ENOSPC
      const env = { USERSYNC_LOG_DIR: path.join(cwd, 'logs') };
      const added = await runUsersync(['roles', 'add', 'Auditor'], { cwd, env });
      expect(added.code).toBe(3);
      expect(added.stderr).toContain(
        `Lines of the audit log ${path.join(cwd, 'logs', 'audit.log')} could not be written (ENOSPC)`,
      );
      const listed = await runUsersync(['roles', 'list'], { cwd, env });
      expect(listed.stdout).toContain('Auditor'); // in the database, with its audit event
    },
  );

  it('exits 2 with a short hint, not a usage dump, for an unknown command or option', async () => {
    const unknown = await runUsersync(['frobnicate'], { cwd: makeWorkdir() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown argument: frobnicate');
    const option = await runUsersync(['roles', 'list', '--jsn'], { cwd: makeWorkdir() });
    expect(option.code).toBe(2);
    expect(option.stderr).toContain('jsn');
  });

  it('lists every command in --help', async () => {
    const help = await runUsersync(['--help'], { cwd: makeWorkdir() });
    expect(help.code).toBe(0);
    for (const command of ['start', 'migrate', 'roles', 'groups', 'departments', 'users'])
      expect(help.stdout).toContain(`usersync ${command}`);
    // A command's own help, and help given after --config's value, still work with one command loaded.
    const commandHelp = await runUsersync(['--config', 'x.json', 'import', '--help'], { cwd: makeWorkdir() });
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toContain('--dry-run');
  });

  it('prints the version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runUsersync(['--version'], { cwd: makeWorkdir() });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});
