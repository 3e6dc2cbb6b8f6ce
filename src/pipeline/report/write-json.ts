/**
 * The machine-readable report (SPEC §3). The rows array is streamed one row at a time, so a
 * 1,000,000-row report never exists as one string.
 */
import { ChunkedTextWriter, writeAtomically } from './atomic-file.js';
import { toRowRecord } from './row-records.js';
import type { ReportSource, ReportSummary, RowResult } from './types.js';

/**
 * With safety on (SPEC §9), right after `counts`: `guards` (every tripped guard, [] when none),
 * `allowed` when `--allow` or an approval let guards through, and a held import's `approveCommand`.
 * With safety off the summary carries none of them, and neither does the report.
 */
function guardFields(summary: ReportSummary): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (summary.guards !== undefined)
    fields.guards = summary.guards.map(({ guard, limit, planned, users }) => ({
      guard,
      limit,
      planned,
      users: [...users],
    }));
  if (summary.allowed !== undefined) fields.allowed = [...summary.allowed];
  if (summary.approveCommand !== undefined) fields.approveCommand = summary.approveCommand;
  return fields;
}

/**
 * The report's top-level fields in contract order (SPEC §3), then the extra context fields.
 * `database` is deliberately left out: it is an operator detail, shown only in the xlsx Summary.
 */
export function reportHead(summary: ReportSummary): Record<string, unknown> {
  const { file, counts } = summary;
  const head: Record<string, unknown> = {
    importId: summary.importId,
    file: { name: file.name, sha256: file.sha256, bytes: file.bytes },
    dryRun: summary.dryRun,
    outcome: summary.outcome,
    counts: {
      rows: counts.rows,
      created: counts.created,
      updated: counts.updated,
      unchanged: counts.unchanged,
      failed: counts.failed,
      // Always present, 0 when none (SPEC §8): a reader need not know whether the feed mirrors.
      deactivated: counts.deactivated,
      // A revert's (SPEC §10) only.
      ...(counts.reverted !== undefined ? { reverted: counts.reverted, conflicts: counts.conflicts ?? 0 } : {}),
    },
    ...guardFields(summary),
    warnings: [...summary.warnings],
  };
  if (summary.error) head.error = { code: summary.error.code, message: summary.error.message };
  head.startedAt = summary.startedAt;
  head.finishedAt = summary.finishedAt;
  head.durationMs = summary.durationMs;
  head.sheetName = summary.sheetName ?? null;
  head.headerRow = summary.headerRow ?? null;
  if (summary.actor !== undefined) head.actor = summary.actor;
  if (summary.feed !== undefined) head.feed = summary.feed;
  if (summary.auditHead !== undefined) head.auditHead = summary.auditHead;
  if (summary.revert !== undefined)
    head.revert = {
      revertsImportId: summary.revert.revertsImportId,
      force: summary.revert.force,
      passwordsNotReverted: [...summary.revert.passwordsNotReverted],
    };
  return head;
}

/** The rows array's body made from parsed rows, for sources without `rowsJsonBody`. */
async function* rowsBody(rows: AsyncIterable<RowResult>): AsyncIterable<string> {
  let first = true;
  for await (const result of rows) {
    yield `${first ? '\n    ' : ',\n    '}${JSON.stringify(toRowRecord(result))}`;
    first = false;
  }
}

/**
 * Writes the JSON report to `filePath` (via `filePath.tmp` and a rename; mode 0o600). The head
 * is indented for people; each row is one compact line, so the file greps and diffs well.
 */
export async function writeJsonReport(source: ReportSource, filePath: string): Promise<void> {
  await writeAtomically(filePath, async (handle) => {
    const out = new ChunkedTextWriter(handle);
    const head = JSON.stringify(reportHead(source.summary), null, 2);
    // Reopen the object just before its closing "\n}" to append the rows array.
    await out.push(`${head.slice(0, -2)},\n  "rows": [`);
    let empty = true;
    for await (const part of source.rowsJsonBody ? source.rowsJsonBody() : rowsBody(source.rows())) {
      await out.push(part);
      empty &&= part.length === 0;
    }
    await out.push(empty ? ']\n}\n' : '\n  ]\n}\n');
    await out.flush();
  });
}
