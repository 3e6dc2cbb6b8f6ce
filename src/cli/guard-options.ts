/**
 * The guards (SPEC §9) on the command line, for `import` and `imports revert`: `--allow`'s value
 * checked, and what the guards did, in words for the terminal.
 */
import { GUARD_NAMES, GUARD_WORDS, parseAllowed, type GuardName } from '../domain/guards.js';
import { fail } from '../errors.js';
import type { ReportSummary } from '../pipeline/report/types.js';

/** `--allow`'s value, checked: a misspelt guard is a usage error, not a guard silently left on. */
export function allowedGuards(text: string): ReadonlySet<GuardName> {
  const parsed = parseAllowed(text);
  if ('unknown' in parsed)
    throw fail('USAGE_INVALID', {
      message: `--allow names no guard ${parsed.unknown.map((name) => `"${name}"`).join(', ')}: give ${GUARD_NAMES.join(', ')} (comma-separated), or all.`,
    });
  return parsed;
}

/** What the guards did: what holds the run and how to apply it anyway, or what was let through. */
export function guardLines(summary: ReportSummary): string[] {
  const trips = summary.guards ?? [];
  const said = (t: (typeof trips)[number]) => `${t.planned} ${GUARD_WORDS[t.guard]} (${t.guard} limit ${t.limit})`;
  if (summary.outcome === 'held')
    return [
      ...trips.map((t) => `held: ${said(t)}`),
      'nothing was written; to apply it anyway:',
      `  ${summary.approveCommand ?? ''}`,
    ];
  if (summary.dryRun) return trips.map((t) => `would be held: ${said(t)}`);
  return trips.map((t) => `applied despite the guard (--allow): ${said(t)}`);
}
