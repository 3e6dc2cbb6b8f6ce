/**
 * The import register: one record per import attempt (CLI or daemon), opened before the file is
 * read and closed with its outcome and counts.
 */
import type { Knex } from 'knex';

/** `approval`: a held file applied after `holds approve` (SPEC §9); `revert`: `imports revert` (SPEC §10). */
export type ImportSource = 'cli' | 'watch' | 'schedule' | 'recover' | 'approval' | 'revert';
export type ImportStatus =
  'running' | 'imported' | 'imported_with_errors' | 'rejected' | 'held' | 'interrupted' | 'failed';

export interface ImportRecord {
  id: number;
  originalName: string;
  sha256: string;
  bytes: number;
  source: ImportSource;
  host: string;
  /** Who ran it (app/actor.ts); null on imports registered before actors were recorded. */
  actor: string | null;
  /** The feed the file belonged to (SPEC §8); null on imports registered before feeds were recorded. */
  feed: string | null;
  status: ImportStatus;
  dryRun: boolean;
  /**
   * The report's counts; `deactivated` (SPEC §8) is 0 on imports registered before mirror feeds;
   * a revert's (SPEC §10) also has `reverted` and `conflicts`.
   */
  counts: {
    rows: number;
    created: number;
    updated: number;
    unchanged: number;
    failed: number;
    deactivated: number;
    reverted?: number;
    conflicts?: number;
  };
  startedAt: string;
  finishedAt: string | null;
  filePath: string | null;
  reportJsonPath: string | null;
  reportXlsxPath: string | null;
  archivedSha256: string | null;
  redacted: boolean;
  error: { code: string; message: string } | null;
  supersededBy: number | null;
  /** SPEC §9: the guards that held the file or were let through (`tripped`, `allowed`); null with safety off. */
  guards: { tripped: Array<{ guard: string; limit: number; planned: number }>; allowed: string[] } | null;
  /** The held import this one applied; the import that applied (or held again) this held one. */
  holdId: number | null;
  resolvedBy: number | null;
  /** How a held import was decided, and by whom. */
  decision: { decision: string; by: string | null; at: string | null; note: string | null } | null;
  /** A revert (SPEC §10): the import it undoes; null on every other import. */
  revertsImportId: number | null;
}

export interface OpenImport {
  originalName: string;
  sha256: string;
  bytes: number;
  source: ImportSource;
  host: string;
  actor: string;
  /** The feed the file belongs to (pipeline/feeds.ts). */
  feed: string;
  /** The held import this one applies after its approval (SPEC §9). */
  holdId?: number | null;
  /** A revert (SPEC §10): the import it undoes. */
  revertsImportId?: number | null;
  dryRun: boolean;
  filePath: string;
  startedAt: string;
}

export async function openImport(knex: Knex, record: OpenImport): Promise<number> {
  const [id] = await knex('imports').insert({
    original_name: record.originalName.slice(0, 255),
    sha256: record.sha256,
    bytes: record.bytes,
    source: record.source,
    host: record.host.slice(0, 255),
    actor: record.actor,
    feed: record.feed,
    hold_id: record.holdId ?? null,
    ...(record.revertsImportId != null ? { reverts_import_id: record.revertsImportId } : {}),
    status: 'running',
    dry_run: record.dryRun,
    file_path: record.filePath,
    started_at: record.startedAt,
  });
  return Number(id);
}

export interface CloseImport {
  status: Exclude<ImportStatus, 'running'>;
  finishedAt: string;
  counts?: ImportRecord['counts'];
  error?: { code: string; message: string } | null;
  filePath?: string;
  reportJsonPath?: string;
  reportXlsxPath?: string;
  archivedSha256?: string | null;
  redacted?: boolean;
  supersededBy?: number;
  /** JSON `{tripped, allowed}` (SPEC §9): what held the file, or what was let through. */
  guards?: string;
}

export async function closeImport(knex: Knex, id: number, close: CloseImport): Promise<void> {
  const update: Record<string, unknown> = { status: close.status, finished_at: close.finishedAt };
  if (close.counts) Object.assign(update, close.counts);
  if (close.error !== undefined) {
    update.error_code = close.error?.code ?? null;
    update.error_message = close.error?.message ?? null;
  }
  if (close.filePath !== undefined) update.file_path = close.filePath;
  if (close.reportJsonPath !== undefined) update.report_json_path = close.reportJsonPath;
  if (close.reportXlsxPath !== undefined) update.report_xlsx_path = close.reportXlsxPath;
  if (close.archivedSha256 !== undefined) update.archived_sha256 = close.archivedSha256;
  if (close.redacted !== undefined) update.redacted = close.redacted;
  if (close.supersededBy !== undefined) update.superseded_by = close.supersededBy;
  if (close.guards !== undefined) update.guards = close.guards;
  await knex('imports').where('id', id).update(update);
}

/** Records that `ids` (closed already, e.g. interrupted because the file changed under them) were re-run by `by`. */
export async function markSuperseded(knex: Knex, ids: readonly number[], by: number): Promise<void> {
  if (ids.length > 0) await knex('imports').whereIn('id', ids).update({ superseded_by: by });
}

interface ImportRow {
  id: number | string;
  original_name: string;
  sha256: string;
  bytes: number | string;
  source: ImportSource;
  host: string;
  actor: string | null;
  feed: string | null;
  status: ImportStatus;
  dry_run: number | boolean;
  rows: number | string;
  created: number | string;
  updated: number | string;
  unchanged: number | string;
  failed: number | string;
  deactivated: number | string;
  started_at: string;
  finished_at: string | null;
  file_path: string | null;
  report_json_path: string | null;
  report_xlsx_path: string | null;
  archived_sha256: string | null;
  redacted: number | boolean;
  error_code: string | null;
  error_message: string | null;
  superseded_by: number | string | null;
  guards?: string | null;
  hold_id?: number | string | null;
  reverts_import_id?: number | string | null;
  reverted?: number | string;
  conflicts?: number | string;
  resolved_by?: number | string | null;
  decision?: string | null;
  decided_by?: string | null;
  decided_at?: string | null;
  decision_note?: string | null;
}

function toRecord(row: ImportRow): ImportRecord {
  return {
    id: Number(row.id),
    originalName: row.original_name,
    sha256: row.sha256,
    bytes: Number(row.bytes),
    source: row.source,
    host: row.host,
    actor: row.actor,
    feed: row.feed ?? null,
    status: row.status,
    dryRun: Boolean(Number(row.dry_run)),
    counts: {
      rows: Number(row.rows),
      created: Number(row.created),
      updated: Number(row.updated),
      unchanged: Number(row.unchanged),
      failed: Number(row.failed),
      deactivated: Number(row.deactivated),
      ...(row.source === 'revert'
        ? { reverted: Number(row.reverted ?? 0), conflicts: Number(row.conflicts ?? 0) }
        : {}),
    },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    filePath: row.file_path,
    reportJsonPath: row.report_json_path,
    reportXlsxPath: row.report_xlsx_path,
    archivedSha256: row.archived_sha256,
    redacted: Boolean(Number(row.redacted)),
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    supersededBy: row.superseded_by === null ? null : Number(row.superseded_by),
    guards: row.guards ? guardsOf(row.guards) : null,
    holdId: row.hold_id == null ? null : Number(row.hold_id),
    resolvedBy: row.resolved_by == null ? null : Number(row.resolved_by),
    decision: row.decision
      ? {
          decision: row.decision,
          by: row.decided_by ?? null,
          at: row.decided_at ?? null,
          note: row.decision_note ?? null,
        }
      : null,
    revertsImportId: row.reverts_import_id == null ? null : Number(row.reverts_import_id),
  };
}

/** The register's guards JSON without the users each guard counted (the report lists those). */
function guardsOf(json: string): NonNullable<ImportRecord['guards']> {
  const parsed = JSON.parse(json) as {
    tripped?: Array<{ guard: string; limit: number; planned: number }>;
    allowed?: string[];
  };
  const tripped = (parsed.tripped ?? []).map(({ guard, limit, planned }) => ({ guard, limit, planned }));
  return { tripped, allowed: parsed.allowed ?? [] };
}

export async function getImport(knex: Knex, id: number): Promise<ImportRecord | undefined> {
  const row = (await knex('imports').where('id', id).first()) as ImportRow | undefined;
  return row ? toRecord(row) : undefined;
}

/** Newest first. */
export async function listImports(
  knex: Knex,
  options: { limit?: number; status?: ImportStatus } = {},
): Promise<ImportRecord[]> {
  const query = knex('imports').orderBy('id', 'desc');
  if (options.status) query.where('status', options.status);
  if (options.limit) query.limit(options.limit);
  return ((await query) as ImportRow[]).map(toRecord);
}

/**
 * The latest import that applied a file of exactly this content (its sha256), with or without
 * failed rows; undefined when none did. Rejected, failed and interrupted runs do not count.
 */
export async function findImportOfContent(knex: Knex, sha256: string): Promise<ImportRecord | undefined> {
  const row = (await knex('imports')
    .where('sha256', sha256)
    .whereIn('status', ['imported', 'imported_with_errors'] satisfies ImportStatus[])
    .orderBy('id', 'desc')
    .first()) as ImportRow | undefined;
  return row ? toRecord(row) : undefined;
}

/** Imports still `running` whose file is at `filePath`: left behind by a crash. */
export async function findRunningImports(knex: Knex, filePath?: string): Promise<ImportRecord[]> {
  const query = knex('imports').where('status', 'running').orderBy('id');
  if (filePath !== undefined) query.where('file_path', filePath);
  return ((await query) as ImportRow[]).map(toRecord);
}

/** Data rows of the feed's last applied file (0 when none): what the rowDropPercent guard compares with (SPEC §9). */
export async function lastAppliedRows(knex: Knex, feed: string): Promise<number> {
  const row = (await knex('imports')
    .where('feed', feed)
    .whereIn('status', ['imported', 'imported_with_errors'] satisfies ImportStatus[])
    .where('dry_run', false)
    .orderBy('id', 'desc')
    .first('rows')) as { rows: number | string } | undefined;
  return row ? Number(row.rows) : 0;
}

/** The reverts of an import (SPEC §10), oldest first: every `imports revert` run that wrote or held. */
export async function findReverts(knex: Knex, importId: number): Promise<ImportRecord[]> {
  const rows = (await knex('imports')
    .where('reverts_import_id', importId)
    .where('dry_run', false)
    .orderBy('id')) as ImportRow[];
  return rows.map(toRecord);
}
