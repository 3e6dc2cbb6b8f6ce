import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/health/metrics.js';

/** One series' value from the real Prometheus text; NaN when the series is absent. */
const valueOf = (text: string, series: string): number =>
  Number(
    text
      .split('\n')
      .find((line) => line.startsWith(`${series} `))
      ?.split(' ')[1],
  );

describe('hold metrics (SPEC §9)', () => {
  it('counts each guard that held a file, and starts every guard at 0 so the first trip is seen', async () => {
    const metrics = createMetrics();
    let text = await metrics.registry.metrics();
    for (const guard of [
      'deactivate',
      'mfaBypass',
      'privilegedGrant',
      'privilegedRevoke',
      'passwordReset',
      'rowDropPercent',
    ])
      expect(valueOf(text, `usersync_guard_trips_total{guard="${guard}"}`), guard).toBe(0);
    expect(valueOf(text, 'usersync_files_total{outcome="held"}')).toBe(0);

    metrics.fileFinished('held', 0.2);
    metrics.guardsTripped(['mfaBypass', 'passwordReset']);
    metrics.fileFinished('held', 0.1);
    metrics.guardsTripped(['mfaBypass']);
    text = await metrics.registry.metrics();
    expect(valueOf(text, 'usersync_guard_trips_total{guard="mfaBypass"}')).toBe(2);
    expect(valueOf(text, 'usersync_guard_trips_total{guard="passwordReset"}')).toBe(1);
    expect(valueOf(text, 'usersync_guard_trips_total{guard="deactivate"}')).toBe(0);
    expect(valueOf(text, 'usersync_files_total{outcome="held"}')).toBe(2);
    // A held file is no success.
    expect(valueOf(text, 'usersync_last_success_timestamp_seconds')).toBe(0);
  });

  it('reports the held imports waiting as a gauge, going down as well as up', async () => {
    const metrics = createMetrics();
    metrics.setHeldImports(3);
    expect(valueOf(await metrics.registry.metrics(), 'usersync_held_imports')).toBe(3);
    metrics.setHeldImports(0);
    expect(valueOf(await metrics.registry.metrics(), 'usersync_held_imports')).toBe(0);
  });
});
