/**
 * What planning before writing costs (SPEC §9): the same 100,000-row file imported new and then
 * again unchanged, once with `safety.enabled` true and once false, each into its own empty store.
 * The two modes alternate which goes first run by run, so a machine that speeds up or slows down
 * during the bench hits both alike; the ratios are of the medians, with each run's pair beside.
 * Every import's JSON report is read back to prove it ran in the mode it was meant to (a report has
 * `guards` exactly when safety was on).
 */
import { closeSync, mkdirSync, openSync, readSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Measurement } from './measure.js';
import { formatSeries, series, type Series } from './series.js';

export type SafetyMode = 'on' | 'off';

/** Targets of SPEC §9: safety on at most this many times safety off. */
export const SAFETY_LIMITS = { new: 1.25, unchanged: 1.1 } as const;

/** Writes the config files that switch safety on and off (`usersync --config FILE`); returns their paths. */
export function safetyConfigs(dir: string): Record<SafetyMode, string> {
  const files = { on: path.join(dir, 'safety-on.json'), off: path.join(dir, 'safety-off.json') };
  writeFileSync(files.on, `${JSON.stringify({ safety: { enabled: true } })}\n`);
  writeFileSync(files.off, `${JSON.stringify({ safety: { enabled: false } })}\n`);
  return files;
}

/**
 * Whether the import whose reports are the only ones in `reportDir` ran with safety on: its JSON
 * report has `guards` (`[]` when none tripped) right after `counts`, and no `guards` with safety off.
 * Only the head is read: a 1M-row report is hundreds of MB, its rows come after.
 */
export function reportedSafety(reportDir: string): SafetyMode {
  const reports = readdirSync(reportDir).filter((name) => name.endsWith('.json'));
  if (reports.length !== 1) throw new Error(`expected one JSON report in ${reportDir}, found ${reports.length}`);
  const fd = openSync(path.join(reportDir, reports[0] as string), 'r');
  try {
    const head = Buffer.alloc(64 * 1024);
    const text = head.toString('utf8', 0, readSync(fd, head, 0, head.length, 0));
    // The report's rows (`"rows": [`, not counts.rows) come last: a cell there cannot fake a key.
    const beforeRows = text.split(/"rows"\s*:\s*\[/)[0] as string;
    return /"guards"\s*:/.test(beforeRows) ? 'on' : 'off';
  } finally {
    closeSync(fd);
  }
}

/** A directory for one import's reports, emptied first so reportedSafety finds only them. */
export function emptyReportDir(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface SafetyDeps {
  runs: number;
  /** A fresh store seeded with the catalogue, for one mode's run. */
  seeded: (label: string) => Promise<string>;
  /** `usersync --config <mode's file> import FILE --report-dir reportDir` into `url`, checked to exit 0. */
  importFile: (url: string, mode: SafetyMode, reportDir: string, what: string) => Promise<Measurement>;
  reportsDir: string;
  log: (line: string) => void;
}

interface ModeRuns {
  new: Measurement[];
  unchanged: Measurement[];
}

export async function safetyRuns(kind: string, deps: SafetyDeps) {
  const runs: Record<SafetyMode, ModeRuns> = { on: { new: [], unchanged: [] }, off: { new: [], unchanged: [] } };
  for (let run = 0; run < deps.runs; run++) {
    // Alternate which mode goes first, so a drift in the machine's speed favours neither.
    const order: SafetyMode[] = run % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const mode of order) {
      const url = await deps.seeded(`${kind}_safety_${mode}`);
      for (const step of ['new', 'unchanged'] as const) {
        const reportDir = emptyReportDir(path.join(deps.reportsDir, `safety-${kind}-${mode}-${step}`));
        const m = await deps.importFile(url, mode, reportDir, `import ${step}, safety ${mode}`);
        const reported = reportedSafety(reportDir);
        if (reported !== mode) throw new Error(`import ${step} meant safety ${mode} but its report says ${reported}`);
        runs[mode][step].push(m);
      }
    }
    const ms = (mode: SafetyMode, step: keyof ModeRuns) => Math.round((runs[mode][step].at(-1) as Measurement).ms);
    deps.log(
      `  safety run ${run + 1} (${order.join(' then ')}): new on ${ms('on', 'new')} / off ${ms('off', 'new')} ms, unchanged on ${ms('on', 'unchanged')} / off ${ms('off', 'unchanged')} ms`,
    );
  }
  const compare = (step: keyof ModeRuns) => {
    const on = series(runs.on[step]);
    const off = series(runs.off[step]);
    // Each run's own pair, on over off: how far one pair strays from the ratio of the medians.
    // In whole ms, as the medians are (series.ts): one run's pair is then exactly the ratio, not 0.01 off.
    const pairs = runs.on[step].map((m, i) => Math.round(m.ms) / Math.round((runs.off[step][i] as Measurement).ms));
    // CPU (the process's and a local server's) on over off: what planning adds in work, which other
    // load on the machine stretches far less than wall time.
    const work = (s: Series) => (s.cpuMs === null ? null : s.cpuMs + (s.serverCpuMs ?? 0));
    const [workOn, workOff] = [work(on), work(off)];
    return {
      on,
      off,
      ratio: +(on.medianMs / off.medianMs).toFixed(2),
      cpuRatio: workOn === null || workOff === null ? null : +(workOn / workOff).toFixed(2),
      pairMin: +Math.min(...pairs).toFixed(2),
      pairMax: +Math.max(...pairs).toFixed(2),
    };
  };
  return { new: compare('new'), unchanged: compare('unchanged') };
}

export type SafetyResult = Awaited<ReturnType<typeof safetyRuns>>;

export function safetyTargets(database: string, r: SafetyResult) {
  return (['new', 'unchanged'] as const).map((step) => ({
    database,
    target: `${step === 'new' ? 'new import' : 'unchanged re-import'}: safety on ≤ ${SAFETY_LIMITS[step]} × safety off`,
    value: r[step].ratio,
    pass: r[step].ratio <= SAFETY_LIMITS[step],
    cpu: null,
  }));
}

const cpu = (s: Series) =>
  s.cpuMs === null ? '' : `; CPU ${s.cpuMs} ms${s.serverCpuMs !== null ? ` + server ${s.serverCpuMs} ms` : ''}`;

export function safetyLines(r: SafetyResult): string[] {
  return (['new', 'unchanged'] as const).flatMap((step) => {
    const c = r[step];
    const name = step === 'new' ? 'new, safety' : 'unchanged, safety';
    return [
      `  ${`${name} on`.padEnd(36)}${formatSeries(c.on)}${cpu(c.on)}`,
      `  ${`${name} off`.padEnd(36)}${formatSeries(c.off)}${cpu(c.off)}`,
      `    on / off: ${c.ratio} × (each run's pair ${c.pairMin}–${c.pairMax})${c.cpuRatio === null ? '' : `; CPU ${c.cpuRatio} ×`}`,
    ];
  });
}
