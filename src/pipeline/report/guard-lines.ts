/**
 * What the xlsx Summary says about guards (SPEC §9): which tripped and by how much, what a held
 * file would have done, and how to approve or decline it; for a dry run, that a real import would
 * be held; for an import let through with `--allow`, which limits were overridden.
 *
 * Everything here comes from guard names, counts, usernames and the approve command: nothing that
 * could carry a password.
 */
import { GUARD_WORDS, type GuardTrip } from '../../domain/guards.js';
import type { ReportSummary } from './types.js';

type Line = readonly [label: string, value: string];

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * "512 users would have Ignore MFA turned on — the limit is 10 (safety.limits.mfaBypass)". The
 * key names where the limit is set; a feed may override it (`feeds[].limits`), so a feed other
 * than the built-in inbox is named too.
 */
export function guardInWords(trip: GuardTrip, feed?: string): string {
  let words = GUARD_WORDS[trip.guard];
  // GUARD_WORDS is written for many; a guard past a limit of 0 may count a single user.
  if (trip.planned === 1) words = words.replace(/\busers\b/, 'user');
  const where =
    feed !== undefined && feed !== 'inbox'
      ? `safety.limits.${trip.guard}, or limits.${trip.guard} of feed "${feed}"`
      : `safety.limits.${trip.guard}`;
  return `${count(trip.planned)} ${words} — the limit is ${count(trip.limit)} (${where})`;
}

/**
 * "Would create 3 users and update 512; 40 unchanged; 1 row would fail; would deactivate 250
 * users": a held file's counts (deactivations only when a mirror feed would make some).
 */
export function wouldHaveDone(summary: ReportSummary): string {
  const { created, updated, unchanged, failed, deactivated } = summary.counts;
  const parts = [
    `Would create ${count(created)} ${created === 1 ? 'user' : 'users'} and update ${count(updated)}`,
    `${count(unchanged)} unchanged`,
  ];
  if (failed > 0) parts.push(`${count(failed)} ${failed === 1 ? 'row would fail' : 'rows would fail'}`);
  if (deactivated > 0) parts.push(`would deactivate ${count(deactivated)} ${deactivated === 1 ? 'user' : 'users'}`);
  return parts.join('; ');
}

/**
 * The command that declines a held import: the approve command with `approve` turned into
 * `decline`, so any global options it carries (`--config FILE`) carry over. Undefined when the
 * hold is not one `usersync holds` decides (a held `usersync import` is declined by not running
 * it again with `--allow`).
 */
export function declineCommand(approveCommand: string | undefined): string | undefined {
  if (approveCommand === undefined || !/\bholds approve\b/.test(approveCommand)) return undefined;
  return approveCommand.replace(/\bholds approve\b/, 'holds decline');
}

/** What each tripped guard's Summary line says, by how the import ended. */
function tripLine(summary: ReportSummary, trip: GuardTrip): Line {
  const words = guardInWords(trip, summary.feed);
  if (summary.outcome === 'held') return ['Held', words];
  if (summary.dryRun) return ['Would be held', `${words}: a real import of this file would be held`];
  if (summary.outcome === 'rejected') return ['Limit exceeded', words];
  // Applied (with `allowed`): the guards listed are the ones the override let through.
  return ['Overridden', `${words}; applied anyway`];
}

/** The Summary lines about guards, in display order; none when safety was off or nothing tripped. */
export function guardLines(summary: ReportSummary): Line[] {
  const guards = summary.guards ?? [];
  const lines: Line[] = guards.map((trip) => tripLine(summary, trip));
  if (guards.length > 0) lines.push(['Users counted', 'The "Held" sheet lists the users each limit counts.']);
  if (summary.outcome === 'held') {
    lines.push(['Would have done', `${wouldHaveDone(summary)}. Nothing was written.`]);
    if (summary.approveCommand !== undefined) lines.push(['To approve', summary.approveCommand]);
    const decline = declineCommand(summary.approveCommand);
    if (decline !== undefined) lines.push(['To decline', decline]);
  }
  if (summary.allowed !== undefined && summary.allowed.length > 0) {
    lines.push([
      'Limits overridden',
      `${summary.allowed.join(', ')}: allowed past their limits for this import (--allow or an approval)`,
    ]);
  }
  return lines;
}
