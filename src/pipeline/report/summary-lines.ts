/**
 * What the xlsx Summary sheet says, as plain label/value lines: written for the HR person who
 * dropped the file in, not for the operator (who has the JSON and the log).
 */
import { redactDatabaseUrl } from '../../config/redact.js';
import { ERROR_CODES } from '../../errors.js';
import { guardLines } from './guard-lines.js';
import type { ReportSummary } from './types.js';

/** One Summary line. Numbers stay numbers in the sheet. */
export type SummaryLine = readonly [label: string, value: string | number];

const plural = (n: number, one: string, many: string): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/**
 * The outcome in one sentence, e.g. "Imported with errors: 3 rows failed, 40 other rows were
 * applied", with the users a mirror feed deactivated (or would) when there are some.
 */
export function outcomeInWords(summary: ReportSummary): string {
  const sentence = outcomeOfRows(summary);
  const { deactivated } = summary.counts;
  if (deactivated === 0 || summary.outcome === 'rejected') return sentence;
  const would = summary.dryRun || summary.outcome === 'held';
  const users = plural(deactivated, 'user', 'users');
  const deactivation = `${users} left out of the file ${would ? 'would be' : deactivated === 1 ? 'was' : 'were'} deactivated`;
  // "…; nothing was changed" stays last: it is what a dry run or a held file's reader must not miss.
  const nothing = '; nothing was changed';
  return sentence.endsWith(nothing)
    ? `${sentence.slice(0, -nothing.length)}; ${deactivation}${nothing}`
    : `${sentence}; ${deactivation}`;
}

/** The outcome for the file's own rows. */
function outcomeOfRows(summary: ReportSummary): string {
  const { counts, dryRun } = summary;
  const applied = counts.rows - counts.failed;
  switch (summary.outcome) {
    case 'rejected':
      return dryRun
        ? 'Rejected (dry run): the file could not be imported'
        : 'Rejected: nothing in this file was imported';
    case 'imported_with_errors':
      return dryRun
        ? `Dry run with errors: ${plural(counts.failed, 'row would fail', 'rows would fail')}; nothing was changed`
        : `Imported with errors: ${plural(counts.failed, 'row', 'rows')} failed, ${plural(applied, 'other row was', 'other rows were')} applied`;
    case 'imported':
      return dryRun
        ? `Dry run: all ${plural(counts.rows, 'row is', 'rows are')} valid; nothing was changed`
        : `Imported: all ${plural(counts.rows, 'row was', 'rows were')} applied`;
    case 'held':
      return `Held for approval: ${plural(summary.guards?.length ?? 0, 'safety limit was', 'safety limits were')} exceeded; nothing was changed`;
  }
}

/** "1.2 s", "3 min 05 s", "2 h 01 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  if (totalSeconds < 3600)
    return `${Math.floor(totalSeconds / 60)} min ${String(totalSeconds % 60).padStart(2, '0')} s`;
  const minutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** "2026-11-24T14:16:03.120Z" → "2026-11-24 14:16:03 UTC"; anything else is shown as given. */
export function formatTimestamp(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : iso;
}

/** The warning for a file whose content an earlier import (a register record) applied already. */
export function sameContentWarning(earlier: {
  id: number;
  originalName: string;
  startedAt: string;
  finishedAt: string | null;
}): string {
  const at = formatTimestamp(earlier.finishedAt ?? earlier.startedAt);
  return `The same content was imported before, as import #${earlier.id} on ${at} (${earlier.originalName}); rows that did not change since then are unchanged.`;
}

/**
 * The Summary's Deactivated line: a number, and when there are some, who they are and where they
 * are listed (they are not rows of the file, so the Rows sheet does not list them).
 */
function deactivatedInWords(summary: ReportSummary): string | number {
  const { deactivated } = summary.counts;
  if (deactivated === 0) return 0;
  const feed = summary.feed === undefined ? 'this feed' : `feed "${summary.feed}"`;
  return `${deactivated} (active users of ${feed} that this file left out; listed on the Deactivated sheet)`;
}

/** Rows per second, or '—' when the import took no measurable time or had no rows. */
function rowsPerSecond(summary: ReportSummary): string | number {
  if (summary.durationMs <= 0 || summary.counts.rows === 0) return '—';
  return Math.round(summary.counts.rows / (summary.durationMs / 1000));
}

function helpFor(code: string): string | undefined {
  return (ERROR_CODES as Record<string, { help: string } | undefined>)[code]?.help;
}

/** What to do about the failed rows: fix the listed ones; the unlisted ones only in the original file. */
function failedRowsAdvice(failed: number, unlisted: number): string {
  const advice: string[] = [];
  if (failed > unlisted)
    advice.push('Fix them in the "Failed rows" sheet and drop this file (or that sheet) into the inbox again.');
  if (unlisted > 0) {
    advice.push(
      `${plural(unlisted, 'row repeats', 'rows repeat')} the username of an earlier row and ${unlisted === 1 ? 'is' : 'are'} listed on the Rows sheet only ` +
        `(imported again, ${unlisted === 1 ? 'it' : 'they'} would overwrite that user): keep one row per user in the original file.`,
    );
  }
  return advice.join(' ');
}

/**
 * Every Summary line in display order: the result first (and, when rejected, why and what to
 * do), then the file, the counts, the timings and each warning on its own line.
 */
export function summaryLines(summary: ReportSummary): SummaryLine[] {
  const { counts, dryRun, file } = summary;
  // A held file's counts, like a dry run's, are what it would have done.
  const wouldOnly = dryRun || summary.outcome === 'held';
  const lines: SummaryLine[] = [['Result', outcomeInWords(summary)]];
  if (summary.error) {
    lines.push(['Reason', summary.error.message], ['Error code', summary.error.code]);
    const help = helpFor(summary.error.code);
    if (help) lines.push(['What to do', help]);
  }
  lines.push(...guardLines(summary));
  if (counts.failed > 0) lines.push(['Failed rows', failedRowsAdvice(counts.failed, summary.unlistedFailures ?? 0)]);
  lines.push(
    ['File', file.name],
    ['Feed', summary.feed ?? 'inbox'],
    ['Size (bytes)', file.bytes],
    ['SHA-256', file.sha256],
    ['Import number', summary.importId ?? '— (not recorded)'],
    ['Dry run', dryRun ? 'Yes: nothing was changed in the directory' : 'No'],
    ['Sheet read', summary.sheetName ?? '—'],
    ['Header row', summary.headerRow ?? '—'],
  );
  if (summary.database !== undefined) lines.push(['Database', redactDatabaseUrl(summary.database)]);
  lines.push(
    ['Rows read', counts.rows],
    [wouldOnly ? 'Would be created' : 'Created', counts.created],
    [wouldOnly ? 'Would be updated' : 'Updated', counts.updated],
    [
      'Unchanged',
      counts.unchanged === 0
        ? 0
        : `${counts.unchanged} (not listed on the Rows sheet; the JSON report lists every row)`,
    ],
    ['Failed', counts.failed],
    ...revertLines(summary, wouldOnly),
    [wouldOnly ? 'Would be deactivated' : 'Deactivated', deactivatedInWords(summary)],
    ['Started', formatTimestamp(summary.startedAt)],
    ['Finished', formatTimestamp(summary.finishedAt)],
    ['Duration', formatDuration(summary.durationMs)],
    ['Rows per second', rowsPerSecond(summary)],
    ['Warnings', summary.warnings.length === 0 ? 'None' : summary.warnings.length],
  );
  if (summary.auditHead !== undefined)
    lines.push([
      'Audit chain',
      `event ${summary.auditHead.seq}, hash ${summary.auditHead.hash} (keep it: usersync audit verify --anchor ${summary.auditHead.seq}:${summary.auditHead.hash})`,
    ]);
  summary.warnings.forEach((warning, index) => lines.push([`Warning ${index + 1}`, warning]));
  return lines;
}

/** A revert's own lines (SPEC §10): what it set back, what it left alone, and the passwords to reset. */
function revertLines(summary: ReportSummary, wouldOnly: boolean): SummaryLine[] {
  const { revert, counts } = summary;
  if (!revert) return [];
  const conflicts = counts.conflicts ?? 0;
  const passwords = revert.passwordsNotReverted;
  return [
    ['Reverts import', revert.revertsImportId],
    [wouldOnly ? 'Would be reverted' : 'Reverted', counts.reverted ?? 0],
    [
      'Conflicts',
      conflicts === 0
        ? 0
        : `${conflicts} (fields changed again after import ${revert.revertsImportId}: ${revert.force ? 'set back anyway (--force)' : 'not reverted; listed on the Rows sheet; --force sets them back'})`,
    ],
    [
      'Passwords not reverted',
      passwords.length === 0
        ? 0
        : `${passwords.length} (no old password is kept: reset them): ${passwords.slice(0, 100).join(', ')}${passwords.length > 100 ? ', …' : ''}`,
    ],
  ];
}
