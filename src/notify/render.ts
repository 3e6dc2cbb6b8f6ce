/**
 * The message an import sends (SPEC §11), rendered when the import closes so that what is queued is
 * exactly what goes out: the subject names the file and the outcome in words; the body gives the
 * counts, the warnings, the reason for a rejection and, for a held file, the tripped guards, what
 * the file would do and the commands that decide it. Plain text and HTML say the same.
 *
 * Everything comes from the report summary, which never holds a password (report/types.ts); the
 * imported file itself is never read here.
 */
import type { ReportSummary } from '../pipeline/report/types.js';
import { declineCommand, guardInWords, wouldHaveDone } from '../pipeline/report/guard-lines.js';
import { outcomeInWords } from '../pipeline/report/summary-lines.js';

export interface RenderedMessage {
  subject: string;
  text: string;
  html: string;
}

/** Usernames shown per guard in the body; the attached report's Held sheet lists them all. */
const USERS_SHOWN = 20;
const WARNINGS_SHOWN = 20;

/** Header-safe: a file name cannot add a line to the subject. */
const oneLine = (text: string): string => text.replace(/[\r\n\t]+/g, ' ').trim();

/** `[usersync] workday.xlsx: Held for approval: 1 safety limit was exceeded; nothing was changed`. */
export function subjectOf(summary: ReportSummary): string {
  return `[usersync] ${oneLine(summary.file.name)}: ${outcomeInWords(summary)}`;
}

interface Section {
  title?: string;
  lines: string[];
}

function sections(summary: ReportSummary): Section[] {
  const { counts } = summary;
  const held = summary.outcome === 'held';
  const out: Section[] = [];
  out.push({
    lines: [
      `${outcomeInWords(summary)}.`,
      `File: ${oneLine(summary.file.name)} (import ${summary.importId ?? '-'}, feed ${summary.feed ?? 'inbox'})`,
      `Finished: ${summary.finishedAt}`,
    ],
  });
  if (summary.error)
    out.push({ title: 'Why it was rejected', lines: [`${summary.error.code}: ${summary.error.message}`] });
  out.push({
    title: held ? 'What the file would do' : 'Counts',
    lines: held
      ? [`${wouldHaveDone(summary)}.`, 'Nothing was written.']
      : [
          `rows ${counts.rows}, created ${counts.created}, updated ${counts.updated}, unchanged ${counts.unchanged}, ` +
            `failed ${counts.failed}, deactivated ${counts.deactivated}`,
        ],
  });
  if (held) {
    const guardLines = (summary.guards ?? []).flatMap((trip) => {
      const shown = trip.users.slice(0, USERS_SHOWN);
      const more = trip.planned > shown.length ? ` and ${trip.planned - shown.length} more` : '';
      return [
        `- ${guardInWords(trip, summary.feed)}`,
        ...(shown.length ? [`  users: ${shown.join(', ')}${more}`] : []),
      ];
    });
    out.push({ title: 'Safety limits exceeded', lines: guardLines });
    const decline = declineCommand(summary.approveCommand);
    const decide = [
      ...(summary.approveCommand ? [`To apply it:   ${summary.approveCommand}`] : []),
      ...(decline ? [`To decline it: ${decline}`] : []),
    ];
    if (decide.length > 0) out.push({ title: 'Deciding', lines: decide });
  }
  if (summary.warnings.length > 0) {
    const shown = summary.warnings.slice(0, WARNINGS_SHOWN).map((w) => `- ${oneLine(w)}`);
    const more = summary.warnings.length - WARNINGS_SHOWN;
    out.push({ title: 'Warnings', lines: more > 0 ? [...shown, `- and ${more} more (see the report)`] : shown });
  }
  out.push({ lines: ['The full report is attached (xlsx); every row is listed there.'] });
  return out;
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Renders the message for an import's summary. */
export function renderImportMessage(summary: ReportSummary): RenderedMessage {
  const parts = sections(summary);
  const text = parts
    .map((s) => [...(s.title ? [`${s.title}:`] : []), ...s.lines.map((l) => (s.title ? `  ${l}` : l))].join('\n'))
    .join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    ...parts.map(
      (s) =>
        (s.title ? `<h3>${escapeHtml(s.title)}</h3>` : '') +
        `<p>${s.lines.map((l) => (/^(To |- |  )/.test(l) ? `<code>${escapeHtml(l)}</code>` : escapeHtml(l))).join('<br>')}</p>`,
    ),
    '</body></html>',
  ].join('\n');
  return { subject: subjectOf(summary), text: `${text}\n`, html };
}
