/**
 * Secrets (issue 6 item 5): a plaintext password never lands anywhere but the input file.
 *
 * Files with distinctive passwords go through the CLI and through the running daemon (on both
 * databases), including files rejected part-way (too many rows, atomic with a failed row); then
 * EVERY file below the test's folders — reports (xlsx unzipped, every entry), logs, archive/,
 * error/, processing/, the TMPDIR given to the processes — and a dump of every table are
 * scanned for every password. Also: a database password in a bad configuration or an unreachable
 * URL is never printed; the health server listens on loopback only; archived files, reports and
 * logs are owner-only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkdir, runUsersync, spawnUsersync, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { dumpTables, notOwnerOnly, scanFiles, walkFiles } from '../helpers/secrets.js';
import { TEMPLATE, userRow, writeCsv, writeXlsx } from '../fixtures/build.js';

const CHEAP_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
/** For daemons expected to misbehave: a short shutdown limit keeps a crashed one from taking 20 s. */
const QUICK_DAEMON = { retryInitialMs: 200, retryMaxMs: 2000, shutdownTimeoutMs: 3000 };

/** A distinctive password: nothing else in any file could contain it by chance. */
const secret = (label: string): string => `Pw-${label}-${randomBytes(6).toString('hex')}`;

describeEachDatabase('passwords never leave the input file', (database) => {
  let root: string;
  let tmp: string;
  let pipeline: TestPipeline;
  const passwords: string[] = [];
  /** The CLI's input files: the only files allowed to hold passwords (never claimed). */
  const cliInputs: string[] = [];
  const pw = (label: string): string => {
    const value = secret(label);
    passwords.push(value);
    return value;
  };
  const cliOutputs: CliResult[] = [];
  let daemonOutput = '';
  let healthLine: Record<string, unknown> | undefined;
  let daemonPort = 0;

  beforeAll(async () => {
    pipeline = await createTestPipeline(database().url); // migrated, roles Administrator/Auditor/Operator/Viewer
    root = makeWorkdir('usersync-secrets-');
    tmp = path.join(root, 'tmp');
    mkdirSync(tmp);
    const env = { USERSYNC_DATABASE_URL: database().url, TMPDIR: tmp, TMP: tmp, TEMP: tmp };

    // --- The CLI ---
    const cli = path.join(root, 'cli');
    const inputs = path.join(cli, 'in');
    mkdirSync(path.join(cli, 'config'), { recursive: true });
    mkdirSync(inputs);
    writeFileSync(
      path.join(cli, 'config', 'local.json'),
      JSON.stringify({ logs: { console: 'json', level: 'debug' }, import: { argon2: CHEAP_ARGON2 } }),
    );
    writeFileSync(path.join(cli, 'max-rows.json'), JSON.stringify({ import: { maxRows: 3 } }));
    writeFileSync(path.join(cli, 'atomic.json'), JSON.stringify({ import: { atomic: true } }));
    const shortPassword = `Q${randomBytes(3).toString('hex')}`; // 7 characters: too short, but distinctive
    passwords.push(shortPassword);
    const input = async (name: string, rows: Parameters<typeof userRow>[0][]): Promise<string> => {
      const file = path.join(inputs, name);
      if (name.endsWith('.csv'))
        writeCsv(file, [TEMPLATE, ...rows.map((r) => userRow(r).map((c) => (c === null ? '' : String(c))))]);
      else await writeXlsx(file, [TEMPLATE, ...rows.map(userRow)]);
      cliInputs.push(file);
      return file;
    };
    const mixed = await input('cli-mixed.xlsx', [
      { name: 'Cli One', username: 'cli1', password: pw('cli-created'), roles: 'Viewer' },
      { name: 'Cli Two', username: 'cli2', password: pw('cli-unknown-role'), roles: 'No Such Role' },
      { name: 'Cli Three', username: 'cli3', password: shortPassword },
      { name: 'Cli Four', username: 'cli4', password: pw('cli-bad-email'), email: 'not an address' },
      { name: 'Cli Five', username: 'cli5', password: `Sénha-Ωmega-${pw('cli-unicode')}` },
      { name: 'Cli Six', username: 'cli6', password: `=${pw('cli-formula')}` },
    ]);
    const csv = await input('cli-mixed.csv', [
      { name: 'Cli Seven', username: 'cli7', password: pw('csv-created') },
      { name: 'Cli Eight', username: 'cli8', password: pw('csv-bad-yes-no'), active: 'perhaps' },
    ]);
    const dry = await input('cli-dry.xlsx', [{ name: 'Cli Dry', username: 'clidry', password: pw('cli-dry-run') }]);
    const tooMany = await input(
      'cli-too-many.xlsx',
      Array.from({ length: 6 }, (_, i) => ({
        name: `Many ${i}`,
        username: `climany${i}`,
        password: pw(`cli-too-many-${i}`),
      })),
    );
    const atomic = await input('cli-atomic.csv', [
      { name: 'Atomic Good', username: 'cliatomic1', password: pw('cli-atomic-good') },
      { name: 'Atomic Bad', username: 'cliatomic2', password: pw('cli-atomic-bad'), roles: 'Nope' },
    ]);
    const reports = path.join(cli, 'reports');
    const run = async (...args: string[]) => {
      const result = await runUsersync(args, { cwd: cli, env });
      cliOutputs.push(result);
      return result;
    };
    expect((await run('import', mixed, csv, '--json', '--report-dir', reports)).code).toBe(1);
    expect((await run('import', mixed, '--json', '--report-dir', reports, '--log-level', 'debug')).code).toBe(1); // again: unchanged rows verify the hash
    expect((await run('import', dry, '--dry-run', '--json', '--report-dir', reports)).code).toBe(0);
    expect((await run('import', tooMany, '--json', '--config', path.join(cli, 'max-rows.json'))).code).toBe(2); // reports beside the file
    expect(
      (await run('import', atomic, '--json', '--report-dir', reports, '--config', path.join(cli, 'atomic.json'))).code,
    ).toBe(2);
    expect((await run('users', 'show', 'cli1', '--json')).code).toBe(0);
    expect((await run('audit')).code).toBe(0);

    // --- The daemon (first with the defaults, then with import.atomic) ---
    // (A file rejected part-way for import.maxRows has its own test below: it blocks the daemon.)
    const stage = path.join(root, 'stage'); // written here, then renamed into the inbox whole
    mkdirSync(stage);
    const dcwd = path.join(root, 'daemon');
    mkdirSync(dcwd);
    const drop = async (daemon: DaemonHandle, name: string, rows: Parameters<typeof userRow>[0][]) => {
      const file = path.join(stage, name);
      if (name.endsWith('.csv'))
        writeCsv(file, [TEMPLATE, ...rows.map((r) => userRow(r).map((c) => (c === null ? '' : String(c))))]);
      else await writeXlsx(file, [TEMPLATE, ...rows.map(userRow)]);
      renameSync(file, path.join(daemon.folder('inbox'), name));
    };
    const reportsIn = (daemon: DaemonHandle) =>
      [...walkFiles(daemon.folder('archive')), ...walkFiles(daemon.folder('error'))].filter((f) =>
        f.endsWith('.report.json'),
      ).length;
    // The dated folders exist beforehand so the rest of this flow is not blocked by the bug the
    // 'archives the first password file of the day' test below shows.
    for (const folder of ['archive', 'error'])
      for (const at of [Date.now(), Date.now() + 120_000])
        mkdirSync(path.join(dcwd, folder, new Date(at).toISOString().slice(0, 10)), { recursive: true, mode: 0o700 });
    const first = await startDaemon({
      databaseUrl: database().url,
      cwd: dcwd,
      env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      config: { import: { argon2: CHEAP_ARGON2 } },
    });
    try {
      daemonPort = first.port;
      await drop(first, 'd-mixed.xlsx', [
        { name: 'D One', username: 'd1', password: pw('daemon-created') },
        { name: 'D Two', username: 'd2', password: pw('daemon-unknown-role'), roles: 'Ghost' },
      ]);
      await drop(first, 'd-good.csv', [{ name: 'D Three', username: 'd3', password: pw('daemon-csv') }]);
      await waitFor(
        () => reportsIn(first) === 2,
        30_000,
        () => `${first.output()}\n${walkFiles(first.cwd).join('\n')}`,
      );
      healthLine = first
        .output()
        .split('\n')
        .filter((l) => l.includes('"daemon.started"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)[0];
      // While it runs: /healthz answers on loopback, and on no other address of this machine.
      expect((await first.health()).status).toBe(200);
    } finally {
      const code = await first.stop();
      expect(code, `daemon exit code; its output ends:\n${first.output().slice(-3000)}`).toBe(0);
      daemonOutput += first.output();
    }
    const second = await startDaemon({
      databaseUrl: database().url,
      cwd: dcwd,
      env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      config: { import: { argon2: CHEAP_ARGON2, atomic: true } },
    });
    try {
      await drop(second, 'd-atomic.xlsx', [
        { name: 'D Atomic', username: 'datomic1', password: pw('daemon-atomic-good') },
        { name: 'D Atomic Bad', username: 'datomic2', password: pw('daemon-atomic-bad'), email: 'nope' },
      ]);
      await waitFor(
        () => reportsIn(second) === 3,
        30_000,
        () => second.output(),
      );
    } finally {
      expect(await second.stop()).toBe(0);
      daemonOutput += second.output();
    }
  }, 120_000);

  afterAll(async () => {
    await pipeline?.close();
  });

  it('imported what it should (so the scan below looks at real output)', async () => {
    const users = (await pipeline.db.knex('users').whereNotNull('password_hash').pluck('username')) as string[];
    expect(users.sort()).toEqual(['cli1', 'cli5', 'cli6', 'cli7', 'd1', 'd3'].sort());
    const hashes = (await pipeline.db.knex('users').whereNotNull('password_hash').pluck('password_hash')) as string[];
    for (const hash of hashes) expect(hash).toMatch(/^\$argon2id\$/);
    const dcwd = path.join(root, 'daemon');
    const archived = walkFiles(path.join(dcwd, 'archive')).map((f) => path.basename(f));
    const errored = walkFiles(path.join(dcwd, 'error')).map((f) => path.basename(f));
    expect(archived.filter((f) => !f.includes('.report.'))).toEqual([expect.stringMatching(/_d-good\.csv$/)]);
    const erroredFiles = errored.filter((f) => !f.includes('.report.'));
    expect(erroredFiles).toHaveLength(2);
    expect(erroredFiles).toEqual(
      expect.arrayContaining([expect.stringMatching(/_d-atomic\.xlsx$/), expect.stringMatching(/_d-mixed\.xlsx$/)]),
    );
  });

  it('leaves no password in any file it wrote: reports (every xlsx entry), logs, archive/, error/, processing/, TMPDIR', async () => {
    const { files, hits } = await scanFiles([root], passwords, cliInputs);
    expect(files.length).toBeGreaterThan(20);
    expect(files.some((f) => f.endsWith('.report.xlsx'))).toBe(true);
    expect(files.some((f) => f.endsWith(path.join('logs', 'usersync.log')))).toBe(true);
    expect(files.some((f) => f.endsWith(path.join('logs', 'audit.log')))).toBe(true);
    expect(hits).toEqual([]);
    // The input files themselves still hold them (the scan would find them: it works).
    expect((await scanFiles([path.join(root, 'cli', 'in')], passwords)).hits.length).toBeGreaterThan(0);
  });

  it('leaves nothing in TMPDIR', () => {
    expect(walkFiles(tmp)).toEqual([]);
  });

  it('prints no password on stdout or stderr (CLI and daemon)', () => {
    const printed = [...cliOutputs.map((r) => r.stdout + r.stderr), daemonOutput].join('\n');
    expect(passwords.filter((p) => printed.includes(p))).toEqual([]);
  });

  it('stores no password in any table (only argon2id hashes)', async () => {
    const dump = await dumpTables(pipeline.db.knex, database().kind);
    expect(Object.keys(dump)).toEqual(expect.arrayContaining(['users', 'audit_events', 'imports']));
    const hits = Object.entries(dump).flatMap(([table, text]) =>
      passwords
        .filter((p) => text.includes(p) || text.includes(JSON.stringify(p).slice(1, -1)))
        .map((p) => `${table}: ${p}`),
    );
    expect(hits).toEqual([]);
  });

  it('archives a redacted copy of every daemon file that had a Password column, also one rejected as atomic', async () => {
    const rows = (await pipeline.db
      .knex('imports')
      .where('source', 'watch')
      .select('original_name', 'status', 'redacted', 'file_path', 'error_code')) as Array<{
      original_name: string;
      status: string;
      redacted: number | boolean;
      file_path: string;
      error_code: string | null;
    }>;
    const byName = Object.fromEntries(rows.map((r) => [r.original_name, r]));
    expect(byName['d-atomic.xlsx']).toMatchObject({ status: 'rejected', error_code: 'FILE_ROWS_FAILED_ATOMIC' });
    for (const name of ['d-mixed.xlsx', 'd-good.csv', 'd-atomic.xlsx']) {
      expect(Boolean(byName[name]?.redacted), `${name} redacted`).toBe(true);
      expect(existsSync(byName[name]!.file_path), `${name} at ${byName[name]!.file_path}`).toBe(true);
    }
  });

  it('creates archived files, reports and logs owner-only (mode & 0o077 === 0)', () => {
    const dcwd = path.join(root, 'daemon');
    const files = [
      ...walkFiles(path.join(dcwd, 'archive')),
      ...walkFiles(path.join(dcwd, 'error')),
      ...walkFiles(path.join(dcwd, 'logs')),
      ...walkFiles(path.join(root, 'cli', 'reports')),
      ...walkFiles(path.join(root, 'cli', 'logs')),
      ...walkFiles(path.join(root, 'cli', 'in')).filter((f) => f.includes('.report.')),
    ];
    expect(files.length).toBeGreaterThan(15);
    expect(notOwnerOnly(files)).toEqual([]);
  });

  it('sends a file rejected part-way (more rows than import.maxRows) to error/, redacted, without blocking the queue', async () => {
    // The file has a Password column, so its copy in error/ is redacted: the redaction re-reads it
    // with the row limit lifted (it used to hit FILE_TOO_MANY_ROWS again and retry for ever).
    const cwd = makeWorkdir('usersync-secrets-toomany-');
    for (const folder of ['archive', 'error'])
      mkdirSync(path.join(cwd, folder, new Date().toISOString().slice(0, 10)), { recursive: true, mode: 0o700 });
    const mine = Array.from({ length: 8 }, (_, i) => secret(`too-many-${i}`));
    const daemon = await startDaemon({
      databaseUrl: database().url,
      cwd,
      config: { import: { argon2: CHEAP_ARGON2, maxRows: 5 }, daemon: QUICK_DAEMON },
    });
    try {
      const stage = path.join(cwd, 'too-many.xlsx');
      await writeXlsx(stage, [
        TEMPLATE,
        ...mine.map((password, i) => userRow({ name: `Many ${i}`, username: `toomany${i}`, password })),
      ]);
      renameSync(stage, path.join(daemon.folder('inbox'), 'too-many.xlsx'));
      await waitFor(
        () => /"file\.claimed"[^\n]*too-many\.xlsx|too-many\.xlsx[^\n]*"file\.claimed"/.test(daemon.output()),
        10_000,
        () => daemon.output(),
      );
      // A file dropped after it must not wait behind it.
      const after = path.join(cwd, 'after.csv');
      writeCsv(after, [TEMPLATE, ['After', 'after-too-many', '', '', '', '', '', '', '', '']]);
      renameSync(after, path.join(daemon.folder('inbox'), 'after.csv'));
      const done = () =>
        walkFiles(daemon.folder('error')).some((f) => f.endsWith('too-many.report.json')) &&
        walkFiles(daemon.folder('archive')).some((f) => f.endsWith('after.report.json'));
      const retried = () => (daemon.output().match(/"file\.retry_scheduled"/g) ?? []).length >= 3;
      await waitFor(
        () => done() || retried() || daemon.child.exitCode !== null,
        15_000,
        () => daemon.output(),
      ).catch(() => undefined);
    } finally {
      await daemon.stop();
    }
    const errored = walkFiles(daemon.folder('error')).map((f) => path.basename(f));
    const processing = walkFiles(daemon.folder('processing')).map((f) => path.basename(f));
    expect.soft(processing.slice(0, 4), `left in processing/ (${processing.length} files)`).toEqual([]);
    expect
      .soft(errored)
      .toEqual(
        expect.arrayContaining([
          expect.stringMatching(/_too-many\.xlsx$/),
          expect.stringMatching(/_too-many\.report\.json$/),
        ]),
      );
    expect
      .soft(
        walkFiles(daemon.folder('archive')).some((f) => f.endsWith('after.report.json')),
        'the next file was imported',
      )
      .toBe(true);
    expect((await scanFiles([cwd], mine)).hits, 'passwords left behind').toEqual([]);
  });

  it('archives the first password file of the day, when archive/YYYY-MM-DD does not exist yet', async () => {
    // The redacted copy is written into the dated folder, which finishFile must create first
    // (it once failed with ENOENT for a CSV and an uncaught stream error for an .xlsx).
    const cwd = makeWorkdir('usersync-secrets-first-');
    const daemon = await startDaemon({
      databaseUrl: database().url,
      cwd,
      config: { import: { argon2: CHEAP_ARGON2 }, daemon: QUICK_DAEMON },
    });
    let exit: number | null = null;
    try {
      const stage = path.join(cwd, 'first.csv');
      writeCsv(stage, [TEMPLATE, ['First Of Day', 'firstofday', secret('first-of-day'), '', '', '', '', '', '', '']]);
      renameSync(stage, path.join(daemon.folder('inbox'), 'first.csv'));
      await waitFor(
        () =>
          walkFiles(daemon.folder('archive')).some((f) => f.endsWith('first.report.json')) ||
          daemon.child.exitCode !== null,
        10_000,
        () => daemon.output(),
      ).catch(() => undefined);
      expect(
        walkFiles(daemon.folder('archive')).map((f) => path.basename(f)),
        daemon
          .output()
          .split('\n')
          .filter((l) => /retry|uncaught|ENOENT/.test(l))
          .slice(0, 3)
          .join('\n'),
      ).toEqual(
        expect.arrayContaining([expect.stringMatching(/_first\.csv$/), expect.stringMatching(/_first\.report\.json$/)]),
      );
    } finally {
      exit = await daemon.stop();
    }
    expect(exit).toBe(0);
  });

  it('binds the health server to 127.0.0.1 by default (the daemon.started log line)', async () => {
    expect(healthLine, 'the daemon.started log line').toBeDefined();
    expect(healthLine!.health).toBe(`127.0.0.1:${daemonPort}`);
  });

  it('is not reachable on a non-loopback address of this machine', async () => {
    const others = Object.values(os.networkInterfaces())
      .flat()
      .filter((a): a is os.NetworkInterfaceInfo => a !== undefined && !a.internal && !a.address.startsWith('fe80'));
    if (others.length === 0) return; // no such address here: the log line above is the check
    // A daemon of our own, so the port is certainly open on loopback while we probe.
    const daemon = await startDaemon({ databaseUrl: database().url, config: { import: { argon2: CHEAP_ARGON2 } } });
    try {
      expect(await connects('127.0.0.1', daemon.port)).toBe(true);
      for (const other of others)
        expect(await connects(other.address, daemon.port), `${other.address}:${daemon.port}`).toBe(false);
    } finally {
      await daemon.stop();
    }
  });
});

/** True when a TCP connection to host:port is accepted within 2 s. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('a database password in the configuration is never printed', () => {
  const SECRET = 'TopSecret';
  let cwd: string;
  beforeAll(() => {
    cwd = makeWorkdir('usersync-secret-config-');
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({
        logs: { console: 'json', level: 'debug' },
        database: { connectTimeoutMs: 1000, acquireTimeoutMs: 2000 },
      }),
    );
  });
  const logs = () =>
    walkFiles(path.join(cwd, 'logs'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
  const leaks = (run: CliResult) =>
    [run.stdout, run.stderr, logs()].filter((t) => t.includes(SECRET) || t.includes(encodeURIComponent(SECRET)));

  it('an invalid configuration (a bad value elsewhere) exits 2 without showing it', async () => {
    for (const args of [['users', 'list'], ['start']]) {
      const run = await runUsersync(args, {
        cwd,
        env: { USERSYNC_DATABASE_URL: `mysql://u:${SECRET}@127.0.0.1:1/x`, USERSYNC_HEALTH_PORT: 'soon' },
      });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain('health.port');
      expect(leaks(run)).toEqual([]);
    }
  });

  it('an invalid database URL holding a password is shown redacted', async () => {
    const file = path.join(cwd, 'bad-url.json');
    writeFileSync(
      file,
      JSON.stringify({ database: { url: `mysql://u:${SECRET}@127.0.0.1:notaport/x` }, watch: { stableMs: 'soon' } }),
    );
    const run = await runUsersync(['users', 'list', '--config', file], { cwd });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('watch.stableMs');
    expect(leaks(run)).toEqual([]);
  });

  it('an unreachable database exits 3 (CLI) or waits (daemon) without showing it', async () => {
    const url = `mysql://u:${SECRET}@127.0.0.1:1/x`;
    const run = await runUsersync(['users', 'list', '--log-level', 'debug'], {
      cwd,
      env: { USERSYNC_DATABASE_URL: url },
    });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain('DB_UNAVAILABLE');
    expect(leaks(run)).toEqual([]);
    const daemon = await runDaemonFor(
      cwd,
      { USERSYNC_DATABASE_URL: url, USERSYNC_HEALTH_PORT: '0' },
      30_000,
      'boot.database_unavailable',
    );
    expect(daemon.stdout + daemon.stderr).toContain('boot.database_unavailable');
    expect(leaks(daemon)).toEqual([]);
  });
});

/** Runs `usersync start` for `ms`, then stops it with SIGTERM. */
/**
 * Runs the daemon until its output shows `until` (then a little longer, for what it logs next), or
 * for at most `ms` — on a loaded machine its start alone can take seconds — then stops it.
 */
function runDaemonFor(cwd: string, env: Record<string, string>, ms: number, until: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnUsersync(['start'], { cwd, env });
    let stdout = '';
    let stderr = '';
    let seen = false;
    const stopSoon = () => {
      if (seen || !(stdout + stderr).includes(until)) return;
      seen = true;
      setTimeout(() => child.kill('SIGTERM'), 500);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => ((stdout += d), stopSoon()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => ((stderr += d), stopSoon()));
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGTERM'), ms);
    const killer = setTimeout(() => child.kill('SIGKILL'), ms + 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}
