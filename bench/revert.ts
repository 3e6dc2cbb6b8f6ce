/**
 * What a revert costs (SPEC §10): a new ROWS-row import into an empty store, then
 * `usersync imports revert` of it (every user it created deactivated, so `--allow deactivate`:
 * the deactivate guard would hold it), RUNS times, each into a fresh store. The target: the
 * revert takes at most 1.5 × the import's own time.
 */
import type { Measurement } from './measure.js';
import { formatSeries, series } from './series.js';

/** SPEC §10: reverting an import at most this many times the import's own time. */
export const REVERT_LIMIT = 1.5;

export interface RevertDeps {
  runs: number;
  seeded: (label: string) => Promise<string>;
  /** `usersync import FILE`, checked to exit 0. */
  importFile: (url: string, what: string) => Promise<Measurement>;
  /** The id of the newest import in the register. */
  lastImportId: (url: string) => Promise<number>;
  /** `usersync imports revert ID --allow deactivate`, checked to exit 0. */
  revert: (url: string, importId: number, what: string) => Promise<Measurement>;
  log: (line: string) => void;
}

export async function revertRuns(kind: string, deps: RevertDeps) {
  const imports: Measurement[] = [];
  const reverts: Measurement[] = [];
  for (let run = 0; run < deps.runs; run++) {
    const url = await deps.seeded(`${kind}_revert`);
    imports.push(await deps.importFile(url, 'import to revert'));
    reverts.push(await deps.revert(url, await deps.lastImportId(url), 'revert'));
    const ms = (m: Measurement[]) => Math.round((m.at(-1) as Measurement).ms);
    deps.log(`  revert run ${run + 1}: import ${ms(imports)} ms, revert ${ms(reverts)} ms`);
  }
  const imported = series(imports);
  const reverted = series(reverts);
  return {
    import: imported,
    revert: reverted,
    ratio: +(reverted.medianMs / imported.medianMs).toFixed(2),
    peakRssMb: Math.round(Math.max(...reverts.map((m) => m.peakRssMb))),
  };
}

export type RevertResult = Awaited<ReturnType<typeof revertRuns>>;

export function revertTargets(database: string, rows: number, r: RevertResult) {
  return [
    {
      database,
      target: `revert of a new ${rows}-row import ≤ ${REVERT_LIMIT} × the import`,
      value: r.ratio,
      pass: r.ratio <= REVERT_LIMIT,
      cpu: null,
    },
  ];
}

export function revertLines(rows: number, r: RevertResult): string[] {
  return [
    `  ${`${rows} rows new, to revert`.padEnd(36)}${formatSeries(r.import)}`,
    `  ${`revert of it`.padEnd(36)}${formatSeries(r.revert)}`,
    `    revert / import: ${r.ratio} ×; revert peak ${r.peakRssMb} MB`,
  ];
}
