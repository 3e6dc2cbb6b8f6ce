/**
 * The real-world corpus (../shared/corpus, README there): 561 spreadsheets and look-alikes nobody
 * on this project wrote. Every one, given to the real `usersync import`, must end imported (exit
 * 0/1) or rejected with a clear FILE_ message (exit 2) — never exit 3, a crash or signal, a hang,
 * more than 1 GB of memory, crash text on stderr, or a temp file left behind. A varied sample also
 * goes through the running daemon, which must stay up and route each file to archive/ or error/.
 *
 * Files run many to a process (helpers/import-batch.ts), two processes at a time, on SQLite only:
 * the property does not depend on the database.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, makeWorkdir } from '../helpers/cli.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import {
  problemsOf,
  runImportBatches,
  runProblems,
  type FileResult,
  type ImportReport,
} from '../helpers/import-batch.js';
import { TEMPLATE, userRow, writeXlsx } from '../fixtures/build.js';

const CORPUS = process.env.USERSYNC_CORPUS ?? path.resolve(REPO_ROOT, '..', 'shared', 'corpus');
const NOT_CORPUS = new Set(['MANIFEST.tsv', 'README.md']);
const corpusFiles = existsSync(CORPUS)
  ? readdirSync(CORPUS)
      .filter((name) => !NOT_CORPUS.has(name) && statSync(path.join(CORPUS, name)).isFile())
      .sort()
  : [];
if (corpusFiles.length === 0) {
  process.stderr.write(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
      `!!! CORPUS TESTS SKIPPED: no corpus at ${CORPUS}.\n` +
      `!!! Put the shared corpus there or point USERSYNC_CORPUS at it.\n` +
      `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n`,
  );
}
const describeCorpus = corpusFiles.length > 0 ? describe : describe.skip;

const MAX_RSS_MB = 1024;
const CHEAP_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

/** MANIFEST.tsv rows by file name (columns: file … detected_kind … notes). */
function readManifest(): Map<string, { kind: string; notes: string }> {
  const manifest = new Map<string, { kind: string; notes: string }>();
  const file = path.join(CORPUS, 'MANIFEST.tsv');
  if (!existsSync(file)) return manifest;
  const [head, ...lines] = readFileSync(file, 'utf8').split('\n');
  const columns = (head ?? '').split('\t');
  const at = (name: string) => columns.indexOf(name);
  for (const line of lines) {
    if (line.trim() === '') continue;
    const cells = line.split('\t');
    manifest.set(cells[at('file')] ?? '', { kind: cells[at('detected_kind')] ?? '', notes: cells[at('notes')] ?? '' });
  }
  return manifest;
}

/**
 * The rejection code a file's nature calls for, where the manifest says it plainly: the message
 * must name what the file is, not a generic "could not be read".
 */
function expectedCode(entry: { kind: string; notes: string }): string | undefined {
  if (/ENCRYPTED OOXML/.test(entry.notes)) return 'FILE_ENCRYPTED';
  if (entry.kind === 'cfb' && /BIFF\d in '(Workbook|Book)' stream/i.test(entry.notes)) return 'FILE_LEGACY_XLS';
  if (entry.kind === 'zip/numbers') return 'FILE_NUMBERS';
  if (entry.kind === 'zip/ooxml' && /^XLSB/.test(entry.notes)) return 'FILE_XLSB';
  if (entry.kind === 'zip/corrupt') return 'FILE_CORRUPT';
  return undefined;
}

describeCorpus('the real-world corpus through `usersync import`', () => {
  let cwd: string;
  let results: FileResult[] = [];

  beforeAll(() => {
    cwd = makeWorkdir('usersync-corpus-');
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({ logs: { console: 'json' }, import: { argon2: CHEAP_ARGON2 } }),
    );
  });

  it('ends every file imported or rejected with a clear FILE_ message: never exit 3, a crash, a hang, 1 GB or a temp file', async () => {
    const started = Date.now();
    results = await runImportBatches(
      corpusFiles.map((name) => path.join(CORPUS, name)),
      {
        cwd,
        workDir: path.join(cwd, 'runs'),
        databaseUrl: (lane) => `sqlite:${path.join(cwd, `lane-${lane}.sqlite`)}`,
        chunkSize: 40,
        parallel: 2,
        perFileTimeoutMs: 60_000,
      },
    );
    const elapsed = Date.now() - started;
    const problems = [
      ...results.flatMap((r) => problemsOf(r).map((p) => `${path.basename(r.file)}: ${p}`)),
      ...runProblems(results, { maxRssMb: MAX_RSS_MB }),
    ];
    process.stderr.write(summarise(results, elapsed));
    expect(problems).toEqual([]);
    expect(results.every((r) => r.report !== undefined)).toBe(true);
    rmSync(path.join(cwd, 'runs'), { recursive: true, force: true }); // ~1,100 reports; kept when the test fails
  }, 300_000);

  it('names what each encrypted, legacy, Numbers, .xlsb and corrupt file is', () => {
    const manifest = readManifest();
    expect(manifest.size).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const result of results) {
      const name = path.basename(result.file);
      const entry = manifest.get(name);
      const expected = entry === undefined ? undefined : expectedCode(entry);
      if (expected === undefined) continue;
      const code = result.report?.error?.code;
      if (code !== expected)
        wrong.push(`${name}: ${code ?? result.report?.outcome ?? 'no report'}, expected ${expected}`);
    }
    expect(wrong).toEqual([]);
  });
});

/** A small varied sample for the daemon: by manifest name, each with why it is in the sample. */
const DAEMON_SAMPLE: ReadonlyArray<readonly [string, string]> = [
  ['apache_poi__test-data__spreadsheet__58616.xlsx', 'encrypted OOXML (standard)'],
  [
    'ExcelDataReader_ExcelDataReader__src__TestData__agile_AES256_SHA512_CBC_pwd_password.xlsx',
    'encrypted OOXML (agile)',
  ],
  ['apache_poi__test-data__spreadsheet__53446.xls', 'legacy .xls'],
  [
    'ExcelDataReader_ExcelDataReader__src__TestData__Test_git_issue_382_oom.xls',
    'legacy .xls that makes cfb run out of memory',
  ],
  ['PHPOffice_PhpSpreadsheet__tests__data__Reader__Gnumeric__gzbomb.gnumeric', 'gzip bomb'],
  ['apache_poi__test-data__spreadsheet__poc-xmlbomb.xlsx', 'XML entity bomb'],
  ['jmcnamara_XlsxWriter__xlsxwriter__test__comparison__xlsx_files__comment03.xlsx', 'dimension A1:XFD1048576'],
  ['PHPOffice_PhpSpreadsheet__tests__data__Reader__XLSX__issue.3982.xlsx', 'dimension A1:AMJ1048576'],
  [
    'apache_poi__test-data__spreadsheet__clusterfuzz-testcase-minimized-POIXSSFFuzzer-5937385319563264.xlsx',
    'fuzzer-mutated workbook',
  ],
  [
    'apache_poi__test-data__spreadsheet__clusterfuzz-testcase-minimized-POIXSSFFuzzer-4828727001088000.xlsx',
    'fuzzer crasher, corrupt zip',
  ],
  [
    'apache_poi__test-data__spreadsheet__clusterfuzz-testcase-minimized-XLSX2CSVFuzzer-5636439151607808.xlsx',
    'fuzzer crasher, 372 bytes',
  ],
  [
    'apache_poi__test-data__spreadsheet__clusterfuzz-testcase-minimized-POIHSSFFuzzer-6137883240824832.xls',
    'fuzzer crasher, OLE',
  ],
  ['apache_poi__test-data__spreadsheet__SimpleStrict.xlsx', 'strict OOXML'],
  ['apache_poi__test-data__spreadsheet__62815.xlsb', '.xlsb'],
];

describeCorpus('a corpus sample through the running daemon', () => {
  let daemon: DaemonHandle | undefined;
  let tmp: string;

  beforeAll(async () => {
    const cwd = makeWorkdir('usersync-corpus-daemon-');
    tmp = path.join(cwd, 'tmp');
    mkdirSync(tmp);
    daemon = await startDaemon({
      cwd,
      databaseUrl: `sqlite:${path.join(cwd, 'daemon.sqlite')}`,
      env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp },
    });
  });

  afterAll(async () => {
    if (daemon !== undefined && daemon.child.exitCode === null) await daemon.stop('SIGKILL');
  });

  it('stays up, routes each file to archive/ or error/ with its reports, and answers /healthz 200', async () => {
    const d = daemon!;
    const present = DAEMON_SAMPLE.filter(([name]) => existsSync(path.join(CORPUS, name)));
    expect(present.length).toBeGreaterThanOrEqual(10);
    // The daemon takes only *.xlsx *.xlsm *.csv: other files go in named .xlsx, as HR systems do.
    const dropped = present.map(([name], i) => {
      const short = `s${String(i).padStart(2, '0')}_${name.slice(-40).replace(/[^\w.-]/g, '_')}`;
      const target = /\.(xlsx|xlsm|csv)$/i.test(short) ? short : `${short}.xlsx`;
      copyFileSync(path.join(CORPUS, name), path.join(d.folder('inbox'), target));
      return target;
    });
    // …and one real user list, which must be imported.
    const good = 's99_users.xlsx';
    await writeXlsx(path.join(d.folder('inbox'), good), [
      TEMPLATE,
      userRow({ name: 'Ana Lima', username: 'ana' }),
      userRow({ name: 'Bo Chen', username: 'bo' }),
    ]);
    dropped.push(good);

    const routed = await waitFor(
      () => {
        const where = new Map<string, { folder: 'archive' | 'error'; report: ImportReport }>();
        for (const folder of ['archive', 'error'] as const) {
          for (const rel of listFiles(d.folder(folder))) {
            if (!rel.endsWith('.report.json')) continue;
            const report = JSON.parse(readFileSync(path.join(d.folder(folder), rel), 'utf8')) as ImportReport;
            where.set(report.file.name, { folder, report });
          }
        }
        return dropped.every((name) => where.has(name)) ? where : undefined;
      },
      120_000,
      () =>
        `${d.output()}\nrouted so far: ${listFiles(d.folder('archive'))
          .concat(listFiles(d.folder('error')))
          .join(', ')}`,
    );

    for (const name of dropped) {
      const { folder, report } = routed!.get(name)!;
      const label = `${name}: ${report.outcome} ${report.error?.code ?? ''} ${report.error?.message ?? ''}`;
      if (name === good) {
        expect(folder, label).toBe('archive');
        expect(report.counts.created, label).toBe(2);
        continue;
      }
      expect(folder, label).toBe('error');
      expect(report.outcome, label).toBe('rejected');
      expect(report.error?.code, label).toMatch(/^FILE_/);
      expect((report.error?.message ?? '').length, label).toBeGreaterThan(10);
      // The file itself and the xlsx report sit beside the JSON report.
      const inFolder = listFiles(d.folder(folder)).map((f) => path.basename(f));
      expect(
        inFolder.some((f) => f.endsWith(`_${name}`)),
        label,
      ).toBe(true);
      expect(
        inFolder.some((f) => f.endsWith(`_${name.replace(/\.(xlsx|xlsm|csv)$/i, '')}.report.xlsx`)),
        label,
      ).toBe(true);
    }

    const visible = (folder: 'inbox' | 'processing') =>
      listFiles(d.folder(folder)).filter((f) => !path.basename(f).startsWith('.'));
    expect(visible('inbox')).toEqual([]);
    expect(visible('processing')).toEqual([]);
    const health = await d.health();
    expect(health.status).toBe(200);
    expect(d.child.exitCode).toBeNull();
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${d.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    expect(hwm).toBeLessThan(MAX_RSS_MB);
    expect(d.output()).not.toMatch(/daemon\.uncaught|unhandled ?rejection|uncaught ?exception|FATAL ERROR/i);
    expect(await d.stop()).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  }, 180_000);
});

/** A short account of the run: outcomes by code, time, memory, the slowest files. */
function summarise(results: readonly FileResult[], elapsedMs: number): string {
  const byCode = new Map<string, number>();
  for (const r of results) {
    const key =
      r.report === undefined
        ? 'NO REPORT'
        : r.report.outcome === 'rejected'
          ? (r.report.error?.code ?? '?')
          : r.report.outcome;
    byCode.set(key, (byCode.get(key) ?? 0) + 1);
  }
  const runs = new Set(results.map((r) => r.run));
  const peak = Math.max(...[...runs].map((r) => r.peakRssMb ?? 0));
  const slowest = [...results]
    .filter((r) => r.report?.durationMs !== undefined)
    .sort((a, b) => b.report!.durationMs! - a.report!.durationMs!)
    .slice(0, 5)
    .map((r) => `    ${r.report!.durationMs} ms  ${path.basename(r.file)}`);
  return [
    `\ncorpus: ${results.length} files in ${(elapsedMs / 1000).toFixed(1)} s over ${runs.size} processes; peak RSS ${Math.round(peak)} MiB`,
    ...[...byCode.entries()].sort((a, b) => b[1] - a[1]).map(([code, n]) => `  ${String(n).padStart(4)}  ${code}`),
    '  slowest:',
    ...slowest,
    '',
  ].join('\n');
}
