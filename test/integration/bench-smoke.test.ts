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
          big: object;
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
    expect(report.targets).toHaveLength(6 * TEST_DATABASES.length);
    // Each time target says whether the import's CPU alone would allow it here; the others do not.
    for (const [kind, r] of Object.entries(report.results)) {
      const [fresh, unchanged, naive, ...rest] = report.targets.filter((t) => t.database === kind);
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
  }, 300_000);
});
