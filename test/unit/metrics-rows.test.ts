import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/health/metrics.js';

/** The `usersync_rows_total` series as {outcome: value}, from the real Prometheus text. */
function rowSeries(text: string): Record<string, number> {
  const series: Record<string, number> = {};
  for (const match of text.matchAll(/^usersync_rows_total\{outcome="([^"]+)"\} (\d+)$/gm))
    series[match[1] as string] = Number(match[2]);
  return series;
}

describe('usersync_rows_total', () => {
  it('labels each row by its one outcome, so the series sum to the rows processed (a report’s `rows` total is no label)', async () => {
    const metrics = createMetrics();
    // The shape the daemon passes: a report's counts, whose `rows` is the total of the others.
    const first = { rows: 7, created: 3, updated: 2, unchanged: 1, failed: 1, deactivated: 0 };
    const reimport = { rows: 2, created: 0, updated: 0, unchanged: 2, failed: 0, deactivated: 0 };
    metrics.rows(first);
    metrics.rows(reimport);
    const series = rowSeries(await metrics.registry.metrics());
    expect(series).toEqual({ created: 3, updated: 2, unchanged: 3, failed: 1, deactivated: 0 });
    expect(Object.values(series).reduce((a, b) => a + b, 0)).toBe(9);
  });

  it('counts users a mirror feed deactivated under outcome="deactivated", apart from the rows (they are no row of the file)', async () => {
    const metrics = createMetrics();
    expect(rowSeries(await metrics.registry.metrics()).deactivated).toBe(0); // present before any import
    const mirror = { rows: 5, created: 0, updated: 1, unchanged: 4, failed: 0, deactivated: 3 };
    const nextMirror = { rows: 5, created: 0, updated: 0, unchanged: 5, failed: 0, deactivated: 2 };
    metrics.rows(mirror);
    metrics.rows(nextMirror);
    const { deactivated, ...rowOutcomes } = rowSeries(await metrics.registry.metrics());
    expect(deactivated).toBe(5);
    expect(Object.values(rowOutcomes).reduce((a, b) => a + b, 0)).toBe(10);
  });
});
