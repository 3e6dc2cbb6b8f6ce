import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { MYSQL_SERVER_URL, TEST_DATABASES } from '../helpers/databases.js';
import { findProcess } from '../../bench/measure.js';
import { fixtureDir } from '../fixtures/build.js';

// A few thousand rows through `npm run bench`'s runner on the databases under test (both unless
// USERSYNC_TEST_DATABASES says otherwise), so the bench cannot rot.
// No timing is asserted: targets are met (or not) in `npm run bench`, not here.
interface SafetyRun {
  medianMs: number;
  runs: number;
  cpuMs: number | null;
}
interface SafetyComparison {
  on: SafetyRun;
  off: SafetyRun;
  ratio: number;
  cpuRatio: number | null;
  pairMin: number;
  pairMax: number;
}

describe('npm run bench (smoke)', () => {
  it('measures every case on each database, states every target and the Node.js it ran on', () => {
    const runner = path.join(REPO_ROOT, 'dist', 'bench', 'run.js');
    expect(existsSync(runner), 'npm run build:bench compiles the bench').toBe(true);
    const out = fixtureDir('usersync-bench-');
    const result = spawnSync(
      process.execPath,
      [runner, '--quick', '--out', out, '--databases', TEST_DATABASES.join(','), '--mysql', MYSQL_SERVER_URL],
      { encoding: 'utf8', timeout: 280_000 },
    );
    expect(result.status, result.stderr.slice(-3000)).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      machine: { node: string };
      cases: string[];
      results: Record<
        string,
        {
          floor: { medianMs: number };
          new: { medianMs: number; peakRssMb: number; cpuMs: number | null };
          newCpuBound: { totalCpuMs: number; serverCpuMs: number | null; lowerBoundMs: number } | null;
          unchanged: object;
          changed10: object;
          naive: { sampleRows: number; sampleMs: number; msPerRow: number; extrapolatedMs: number };
          passwords: {
            runs: number;
            rowsPerSecond: number;
            bareArgon2Rate: number;
            ratio: number;
            ratioMin: number;
            ratioMax: number;
          };
          big: { rows: number; peakRssMb: number; safety: string };
          safety: Record<'new' | 'unchanged', SafetyComparison>;
          mirror: { ratio: number; mirror: { medianMs: number }; delta: { medianMs: number }; left: { ms: number } };
          revert: { ratio: number; import: { medianMs: number; runs: number }; revert: { medianMs: number } };
          scim: {
            outbox: { ratio: number; withTarget: { medianMs: number; runs: number }; without: { medianMs: number } };
            delivery: {
              rows: number;
              ms: number;
              usersPerSecond: number;
              finished: boolean;
              delivered: number;
              atProvider: { users: number; failed: number };
              parked: number;
              peakRss: { daemonMb: number | null };
            };
          };
        }
      >;
      targets: Array<{
        database: string;
        target: string;
        pass: boolean;
        cpu: { limitMs: number; lowerBoundMs: number; reachable: boolean } | null;
      }>;
    };
    // The Node.js every case ran on is named before the first case, in the summary and in results.json.
    const header = `bench on Node ${process.version} (${process.execPath}), ${availableParallelism()} cores, databases ${TEST_DATABASES.join(',')}\n`;
    expect(result.stderr).toContain(header);
    expect(result.stderr.indexOf(header)).toBeLessThan(result.stderr.indexOf('\n== '));
    expect(result.stdout).toContain(`Node ${process.version};`);
    expect(report.machine.node).toBe(process.version);
    expect(Object.keys(report.results).sort()).toEqual([...TEST_DATABASES].sort());
    expect(report.cases).toEqual(['main', 'naive', 'passwords', 'safety', 'big', 'mirror', 'revert', 'scim']);
    for (const r of Object.values(report.results)) {
      expect(r.floor.medianMs).toBeGreaterThan(0);
      expect(r.new.peakRssMb).toBeGreaterThan(0);
      for (const key of ['unchanged', 'changed10', 'naive', 'passwords', 'big'] as const) expect(r[key]).toBeDefined();
      // The naive time is its sample's whole process plus the rows it skipped at its measured rate.
      expect(r.naive.msPerRow).toBeGreaterThan(0);
      expect(r.naive.sampleRows).toBeLessThan(2000);
      expect(
        Math.abs(r.naive.extrapolatedMs - (r.naive.sampleMs + r.naive.msPerRow * (2000 - r.naive.sampleRows))),
      ).toBeLessThan(r.naive.extrapolatedMs * 0.01 + 1);
      // The password ratio is the hashing rate against the bare rate beside it, one per run (--quick: 1).
      expect(r.passwords).toMatchObject({ runs: 1, ratioMin: r.passwords.ratio, ratioMax: r.passwords.ratio });
      expect(r.passwords.ratio).toBeCloseTo(r.passwords.rowsPerSecond / r.passwords.bareArgon2Rate, 2);
      // Every import reports its CPU time (bench/cpu-report.cts), and the bound follows from it.
      expect(r.new.cpuMs).toBeGreaterThan(0);
      expect(r.newCpuBound?.lowerBoundMs).toBe(Math.round((r.newCpuBound?.totalCpuMs ?? NaN) / availableParallelism()));
    }
    // MariaDB runs on this machine in the test setup: its CPU during the import is counted too.
    if (TEST_DATABASES.includes('mysql') && findProcess(['mariadbd', 'mysqld']) !== undefined) {
      expect(report.results.mysql?.newCpuBound?.serverCpuMs).toBeGreaterThan(0);
      expect(result.stdout).toMatch(/its CPU: \d+ ms in the import process \+ \d+ ms in the database server/);
    }
    // Safety on against off (SPEC §9): both modes measured, run for run, and the ratio of their medians.
    for (const r of Object.values(report.results)) {
      for (const step of ['new', 'unchanged'] as const) {
        const c = r.safety[step];
        expect(c.on).toMatchObject({ runs: 1 });
        expect(c.off).toMatchObject({ runs: 1 });
        expect(c.on.cpuMs).toBeGreaterThan(0);
        expect(c.ratio).toBeCloseTo(c.on.medianMs / c.off.medianMs, 2);
        expect(c.cpuRatio).toBeGreaterThan(0);
        expect(c).toMatchObject({ pairMin: c.ratio, pairMax: c.ratio }); // one run: its pair is the ratio
      }
      // The 1M-row case ran with the defaults, and its report shows that meant safety on.
      expect(r.big).toMatchObject({ rows: 6000, safety: 'on' });
      // Mirror against delta on the same unchanged roster (SPEC §8), and the 1 %-left import.
      expect(r.mirror.ratio).toBeCloseTo(r.mirror.mirror.medianMs / r.mirror.delta.medianMs, 2);
      expect(r.mirror.left.ms).toBeGreaterThan(0);
      // A new import and its revert (SPEC §10), and the ratio of their medians.
      expect(r.revert.import.runs).toBe(1);
      expect(r.revert.ratio).toBeCloseTo(r.revert.revert.medianMs / r.revert.import.medianMs, 2);
      // SCIM (SPEC §12): the daemon delivered every imported user to the provider process, none
      // parked; and the import with a target against without, run for run.
      const { delivery, outbox } = r.scim;
      expect(delivery).toMatchObject({
        rows: 2000,
        finished: true,
        delivered: 2000,
        atProvider: { users: 2000, failed: 0 },
        parked: 0,
      });
      expect(delivery.usersPerSecond).toBe(Math.round(2000 / (delivery.ms / 1000)));
      expect(delivery.peakRss.daemonMb).toBeGreaterThan(0);
      expect(outbox.withTarget.runs).toBe(1);
      expect(outbox.ratio).toBeCloseTo(outbox.withTarget.medianMs / outbox.without.medianMs, 2);
    }
    expect(report.targets).toHaveLength(13 * TEST_DATABASES.length);
    // Each time target says whether the import's CPU alone would allow it here; the others do not.
    for (const [kind, r] of Object.entries(report.results)) {
      const mine = report.targets.filter((t) => t.database === kind);
      const [fresh, unchanged, naive, ...rest] = mine;
      expect(mine.map((t) => t.target)).toEqual([
        'new import ≤ 1.5 × floor',
        'unchanged re-import ≤ 1.3 × floor',
        '≥ 20 × faster than naive',
        '6000 rows, safety on: peak RSS < 300 MB',
        'memory does not grow with rows (RSS 6000 ≤ 1.25 × RSS 2000)',
        expect.stringMatching(/^passwords ≥ 90% of bare argon2id/),
        'new import: safety on ≤ 1.25 × safety off',
        'unchanged re-import: safety on ≤ 1.1 × safety off',
        'unchanged 6000-row re-import: mirror ≤ 1.1 × delta',
        '6000-row mirror re-import: peak RSS < 300 MB',
        'revert of a new 2000-row import ≤ 1.5 × the import',
        '2000-user first load delivered to SCIM ≥ 500 users/s (all of them, none parked)',
        'import with a SCIM target ≤ 1.05 × with targets []',
      ]);
      const [newSafety, unchangedSafety] = mine.slice(-7, -5);
      expect(newSafety).toMatchObject({ value: r.safety.new.ratio, pass: r.safety.new.ratio <= 1.25 });
      expect(unchangedSafety).toMatchObject({ value: r.safety.unchanged.ratio, pass: r.safety.unchanged.ratio <= 1.1 });
      expect(fresh?.cpu?.limitMs).toBe(Math.round(1.5 * r.floor.medianMs));
      expect(unchanged?.cpu?.limitMs).toBe(Math.round(1.3 * r.floor.medianMs));
      expect(naive?.cpu).toMatchObject({
        limitMs: Math.round(r.naive.extrapolatedMs / 20),
        lowerBoundMs: r.newCpuBound?.lowerBoundMs,
      });
      for (const t of [fresh, unchanged, naive])
        expect(t?.cpu?.reachable).toBe((t?.cpu?.lowerBoundMs ?? NaN) <= (t?.cpu?.limitMs ?? NaN) + 0.5);
      for (const t of rest) expect(t.cpu).toBeNull();
    }
    expect(result.stdout).toMatch(/(PASS|FAIL) {2}sqlite new import/);
    expect(result.stdout).toMatch(/(PASS|FAIL) {2}\w+ +new import: safety on ≤ 1\.25 × safety off: [\d.]+/);
    expect(result.stdout).toMatch(/ {4}on \/ off: [\d.]+ × \(each run's pair/);
  }, 300_000);
});
