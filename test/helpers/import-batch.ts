/**
 * Runs many files through the real `usersync import` CLI, many files per process, for the corpus
 * and fuzz robustness tests: one node process per file would cost ~0.5 s of start-up each.
 *
 * Each chunk of files is one `usersync import f1 f2 … --json --report-dir DIR` process with its own
 * empty TMPDIR (checked empty afterwards), its peak RSS measured (`/usr/bin/time -f %M` when
 * present, else VmHWM polled from /proc), and a per-file watchdog: when no new report appears for
 * `perFileTimeoutMs`, the process group is killed and the file being read is blamed for a hang.
 * When a process dies (signal, exit 3, hang), the first file without a report is blamed and the
 * files after it run again in a fresh process, so one bad file never hides the others.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnUsersync } from './cli.js';

/** The report JSON fields these tests look at (README "Reports"). */
export interface ImportReport {
  file: { name: string; sha256: string | null; bytes: number | null };
  outcome: 'imported' | 'imported_with_errors' | 'rejected';
  counts: { rows: number; created: number; updated: number; unchanged: number; failed: number };
  error?: { code: string; message: string };
  durationMs?: number;
}

/** One process run over a chunk of files. */
export interface ChunkRun {
  files: string[];
  code: number | null;
  signal: string | null;
  /** Peak resident set size of the node process, in MiB (undefined when it could not be measured). */
  peakRssMb: number | undefined;
  stdout: string;
  stderr: string;
  ms: number;
  /** True when the watchdog killed the process because one file took longer than perFileTimeoutMs. */
  hung: boolean;
  /** Whatever the process left in its TMPDIR. */
  tmpLeft: string[];
  /** The --report-dir of the run. */
  reportDir: string;
}

/** What happened to one file. */
export interface FileResult {
  file: string;
  /** The report the CLI wrote for it (absent when the process died on this file). */
  report: ImportReport | undefined;
  /** The process that handled (or died on) the file. */
  run: ChunkRun;
  /** Set when this file's process hung, crashed or exited 3 before reporting it. */
  blamed: string | undefined;
}

export interface BatchOptions {
  /** Working directory of every process (holds config/local.json; the CLI writes logs/ there). */
  cwd: string;
  /** Where each chunk's report and temp folders are created. */
  workDir: string;
  /** database.url per parallel lane (lanes must not share an SQLite file: SQLITE_BUSY is exit 3). */
  databaseUrl: (lane: number) => string;
  chunkSize: number;
  parallel: number;
  perFileTimeoutMs: number;
  /** Extra arguments after the files (e.g. ['--dry-run']). */
  args?: string[];
}

const TIME = '/usr/bin/time';
/** `<stem>.report.json`, or `<stem>.report (2).json` when two files share a stem. */
const REPORT_JSON = /\.report( \(\d+\))?\.json$/;
const hasTime = existsSync(TIME);
let chunkCounter = 0;

/** Runs every file; results are in input order. */
export async function runImportBatches(files: readonly string[], options: BatchOptions): Promise<FileResult[]> {
  const queue: string[][] = [];
  for (let i = 0; i < files.length; i += options.chunkSize) queue.push(files.slice(i, i + options.chunkSize));
  const results = new Map<string, FileResult>();
  const lane = async (laneNo: number): Promise<void> => {
    for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
      let rest = chunk;
      while (rest.length > 0) {
        const run = await runChunk(rest, laneNo, options);
        const reports = readReports(run);
        const done = rest.filter((f) => reports.has(path.basename(f)));
        for (const file of done)
          results.set(file, { file, report: reports.get(path.basename(file)), run, blamed: undefined });
        if (done.length === rest.length) break;
        // The process stopped before reporting every file: blame the first unreported one.
        const culprit = rest.find((f) => !reports.has(path.basename(f)))!;
        const why = run.hung
          ? `no report within ${options.perFileTimeoutMs} ms (hang)`
          : `the process ended with ${run.signal !== null ? `signal ${run.signal}` : `exit code ${run.code}`} before reporting it`;
        results.set(culprit, { file: culprit, report: undefined, run, blamed: why });
        rest = rest.slice(rest.indexOf(culprit) + 1).filter((f) => !reports.has(path.basename(f)));
      }
    }
  };
  await Promise.all(Array.from({ length: options.parallel }, (_, i) => lane(i)));
  return files.map((f) => results.get(f)!);
}

/** Reports written by a run, by the original file name they describe. */
function readReports(run: ChunkRun): Map<string, ImportReport> {
  const reports = new Map<string, ImportReport>();
  for (const name of readdirSync(run.reportDir)) {
    if (!REPORT_JSON.test(name)) continue;
    try {
      const report = JSON.parse(readFileSync(path.join(run.reportDir, name), 'utf8')) as ImportReport;
      reports.set(report.file.name, report);
    } catch {
      // Half-written when its process was killed: that file is the one being blamed.
    }
  }
  // Files that could not be opened at all have no report file, only an entry in stdout.
  if (run.code !== null && run.signal === null && !run.hung) {
    try {
      const printed = JSON.parse(run.stdout) as ImportReport | ImportReport[];
      for (const report of Array.isArray(printed) ? printed : [printed])
        if (!reports.has(report.file.name)) reports.set(report.file.name, report);
    } catch {
      // Not JSON (a crash): the report files are all there is.
    }
  }
  return reports;
}

async function runChunk(files: readonly string[], laneNo: number, options: BatchOptions): Promise<ChunkRun> {
  const dir = path.join(options.workDir, `chunk-${String(++chunkCounter).padStart(4, '0')}`);
  const reportDir = path.join(dir, 'reports');
  const tmp = path.join(dir, 'tmp');
  mkdirSync(reportDir, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  const rssFile = path.join(dir, 'rss.txt');
  const args = ['import', ...files, '--json', '--report-dir', reportDir, ...(options.args ?? [])];
  const wrapper = hasTime ? [TIME, '-f', '%M', '-o', rssFile] : [];
  const databaseUrl = options.databaseUrl(laneNo);
  const env = { TMPDIR: tmp, TMP: tmp, TEMP: tmp, USERSYNC_DATABASE_URL: databaseUrl, USERSYNC_LOG_LEVEL: undefined };
  const started = Date.now();
  const child = spawnUsersync(args, { cwd: options.cwd, env, wrapper, detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));

  let hung = false;
  let reported = 0;
  let progressAt = Date.now();
  let hwmKb = 0;
  const poll = setInterval(() => {
    const count = readdirSync(reportDir).filter((n) => REPORT_JSON.test(n)).length;
    if (count !== reported) ((reported = count), (progressAt = Date.now()));
    if (!hasTime) hwmKb = Math.max(hwmKb, vmHwmKb(child.pid));
    if (Date.now() - progressAt > options.perFileTimeoutMs && !hung) {
      hung = true;
      killGroup(child.pid);
    }
  }, 200);
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('close', (c, s) => resolve({ code: c, signal: s })),
  );
  clearInterval(poll);
  const ms = Date.now() - started;

  let peakRssMb = hwmKb > 0 ? hwmKb / 1024 : undefined;
  let exitCode = code;
  let exitSignal = signal;
  if (hasTime && existsSync(rssFile)) {
    // GNU time writes "Command exited with non-zero status N" / "Command terminated by signal N" before %M.
    const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
    const kb = Number(lines[lines.length - 1]);
    if (Number.isFinite(kb) && kb > 0) peakRssMb = kb / 1024;
    const bySignal = /terminated by signal (\d+)/.exec(lines.join('\n'));
    if (bySignal) ((exitSignal = `signal ${bySignal[1]}`), (exitCode = null));
  }
  return {
    files: [...files],
    code: exitCode,
    signal: exitSignal,
    peakRssMb,
    stdout,
    stderr,
    ms,
    hung,
    tmpLeft: readdirSync(tmp),
    reportDir,
  };
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL'); // the group we created with detached: time and node
  } catch {
    // already gone
  }
}

function vmHwmKb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Texts on stderr that mean the process crashed rather than handled an error. */
export const CRASH_TEXT =
  /unhandled ?rejection|uncaught ?exception|triggerUncaughtException|FATAL ERROR|JavaScript heap out of memory|Segmentation fault|core dumped|Abort(ed)? trap|\n\s+at .+\(node:internal/i;

/** The exit code a report stands for (README "Exit codes"). */
export const exitCodeOf = (report: ImportReport): number =>
  report.outcome === 'imported' ? 0 : report.outcome === 'imported_with_errors' ? 1 : 2;

/**
 * Every way one file's result breaks the robustness property: it hung or killed its process, or
 * it was rejected without a FILE_ code and a message. Process-wide problems are in runProblems.
 */
export function problemsOf(result: FileResult): string[] {
  const problems: string[] = [];
  const { report } = result;
  if (result.blamed !== undefined) problems.push(result.blamed);
  if (report !== undefined) {
    if (report.outcome === 'rejected') {
      if (!report.error?.code.startsWith('FILE_'))
        problems.push(`rejected with code ${report.error?.code ?? '(none)'}, not a FILE_ code`);
      if ((report.error?.message ?? '').trim().length < 10)
        problems.push(`rejected without a clear message (${JSON.stringify(report.error?.message)})`);
    } else if (report.outcome !== 'imported' && report.outcome !== 'imported_with_errors') {
      problems.push(`unknown outcome ${String(report.outcome)}`);
    }
  }
  return problems;
}

/**
 * Problems of the processes, each naming the files it ran: more than `maxRssMb`, crash text on
 * stderr, temp files left behind, and — for a process that ended by itself — an exit code other
 * than the worst file's and a stdout that is not one report per file. (A process killed for a
 * hang or dead of a signal or exit 3 is already a problem of the file it was reading.)
 */
export function runProblems(results: readonly FileResult[], limits: { maxRssMb: number }): string[] {
  const problems: string[] = [];
  const runs = [...new Set(results.map((r) => r.run))];
  for (const run of runs) {
    const names = run.files.map((f) => path.basename(f));
    const where =
      names.length <= 3 ? names.join(', ') : `${names[0]} … ${names[names.length - 1]} (${names.length} files)`;
    const add = (text: string) => problems.push(`process over ${where}: ${text}`);
    if (run.peakRssMb !== undefined && run.peakRssMb > limits.maxRssMb)
      add(`peaked at ${Math.round(run.peakRssMb)} MiB RSS`);
    const crash = CRASH_TEXT.exec(run.stderr);
    if (crash !== null)
      add(`crash text on stderr: ${run.stderr.slice(Math.max(0, crash.index - 300), crash.index + 700)}`);
    if (run.signal !== null || run.hung || run.code === 3) continue;
    if (run.tmpLeft.length > 0) add(`left temp files: ${run.tmpLeft.join(', ')}`);
    const mine = results.filter((r) => r.run === run && r.report !== undefined);
    const worst = Math.max(...mine.map((r) => exitCodeOf(r.report!)));
    if (run.code !== worst) add(`exited ${run.code}, but its worst report means ${worst}: ${run.stderr.slice(-500)}`);
    let printed: unknown;
    try {
      printed = JSON.parse(run.stdout);
    } catch {
      add(`printed no JSON on stdout: ${run.stdout.slice(0, 300)}`);
    }
    const count = Array.isArray(printed) ? printed.length : printed === undefined ? 0 : 1;
    if (printed !== undefined && count !== run.files.length)
      add(`printed ${count} reports for ${run.files.length} files`);
  }
  return problems;
}
