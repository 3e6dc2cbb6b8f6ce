/**
 * What mirror mode costs (SPEC §8): the same roster re-imported unchanged as a delta feed and as
 * a mirror feed (the mirror also walks the feed's users to find who is absent), alternating which
 * goes first; and a mirror import in which 1 % of the users left. The feed is named with
 * `--feed roster` under a config that makes it a mirror or a delta feed.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Measurement } from './measure.js';
import { formatSeries, series } from './series.js';

export type FeedMode = 'mirror' | 'delta';

/** SPEC §8: an unchanged mirror re-import at most this many times the same file as a delta. */
export const MIRROR_LIMIT = 1.1;

/** Config files making the feed `roster` a mirror or a delta feed; returns their paths. */
export function mirrorConfigs(dir: string): Record<FeedMode, string> {
  const write = (mode: FeedMode) => {
    const file = path.join(dir, `feed-${mode}.json`);
    // The 1 % case deactivates 1,000 users: its guard would hold it (a limit of -1 turns it off).
    const config = {
      feeds: [{ name: 'roster', match: 'no-file-matches-this', mode }],
      safety: { limits: { deactivate: -1 } },
    };
    writeFileSync(file, `${JSON.stringify(config)}\n`);
    return file;
  };
  return { mirror: write('mirror'), delta: write('delta') };
}

export interface MirrorDeps {
  runs: number;
  seeded: (label: string) => Promise<string>;
  /** `usersync --config <mode's file> import FILE --feed roster`, checked to exit 0. */
  importFile: (url: string, mode: FeedMode, file: string, what: string) => Promise<Measurement>;
  /** The roster (the big file), the 100k-row file, and the same without its last 1 %. */
  files: { roster: string; base: string; left: string };
  log: (line: string) => void;
}

export async function mirrorRuns(kind: string, deps: MirrorDeps) {
  const url = await deps.seeded(`${kind}_mirror`);
  const first = await deps.importFile(url, 'mirror', deps.files.roster, 'mirror first load');
  deps.log(`  mirror first load: ${Math.round(first.ms)} ms, ${Math.round(first.peakRssMb)} MB`);
  const runs: Record<FeedMode, Measurement[]> = { mirror: [], delta: [] };
  for (let run = 0; run < deps.runs; run++) {
    const order: FeedMode[] = run % 2 === 0 ? ['mirror', 'delta'] : ['delta', 'mirror'];
    for (const mode of order)
      runs[mode].push(await deps.importFile(url, mode, deps.files.roster, `unchanged roster as ${mode}`));
    const ms = (mode: FeedMode) => Math.round((runs[mode].at(-1) as Measurement).ms);
    deps.log(`  roster run ${run + 1}: unchanged as mirror ${ms('mirror')} ms / as delta ${ms('delta')} ms`);
  }
  const leftUrl = await deps.seeded(`${kind}_mirror_left`);
  await deps.importFile(leftUrl, 'mirror', deps.files.base, 'mirror base');
  const left = await deps.importFile(leftUrl, 'mirror', deps.files.left, 'mirror, 1 % left');
  deps.log(`  mirror, 1 % left: ${Math.round(left.ms)} ms`);
  const mirror = series(runs.mirror);
  const delta = series(runs.delta);
  return {
    mirror,
    delta,
    ratio: +(mirror.medianMs / delta.medianMs).toFixed(2),
    peakRssMb: Math.round(Math.max(...runs.mirror.map((m) => m.peakRssMb))),
    left: { ms: Math.round(left.ms), peakRssMb: Math.round(left.peakRssMb) },
  };
}

export type MirrorResult = Awaited<ReturnType<typeof mirrorRuns>>;

export function mirrorTargets(database: string, rows: number, r: MirrorResult) {
  return [
    {
      database,
      target: `unchanged ${rows}-row re-import: mirror ≤ ${MIRROR_LIMIT} × delta`,
      value: r.ratio,
      pass: r.ratio <= MIRROR_LIMIT,
      cpu: null,
    },
    {
      database,
      target: `${rows}-row mirror re-import: peak RSS < 300 MB`,
      value: r.peakRssMb,
      pass: r.peakRssMb < 300,
      cpu: null,
    },
  ];
}

export function mirrorLines(rows: number, baseRows: number, r: MirrorResult): string[] {
  return [
    `  ${`${rows} rows unchanged, mirror`.padEnd(36)}${formatSeries(r.mirror)}`,
    `  ${`${rows} rows unchanged, delta`.padEnd(36)}${formatSeries(r.delta)}`,
    `    mirror / delta: ${r.ratio} ×; mirror peak ${r.peakRssMb} MB`,
    `  ${`${baseRows} rows, mirror, 1 % left`.padEnd(36)}${r.left.ms} ms, peak ${r.left.peakRssMb} MB`,
  ];
}
