/**
 * The apply stage: takes the reader's batches, validates and hashes each (prepare), and writes it
 * (writeBatch) — several batches to a transaction (grouped-transaction.ts), or one for the whole
 * file with import.atomic.
 * The next batches are prepared while one is written, so argon2 and reading overlap the database.
 */
import type { Knex } from 'knex';
import { catalogKey, cleanCatalogName } from '../../domain/catalog-name.js';
import type { RawRow } from '../../domain/columns.js';
import { compileUsernamePattern } from '../../domain/username.js';
import { clearMarkerKey } from '../../domain/row-intent.js';
import { UsernameIndex } from '../../domain/username-index.js';
import { auditEventStatements, queryAuditEvents, type AuditEvent } from '../../db/repositories/audit.js';
import { mapDatabaseError } from '../../db/errors.js';
import { isoNow, type Clock } from '../../db/time.js';
import { fail } from '../../errors.js';
import type { StagedAuditLines } from '../audit.js';
import type { PipelineDeps } from '../import-request.js';
import type { ReportCounts, RowResult, RowSpool } from '../report/index.js';
import { loadCatalogCache, type CatalogCache } from './catalog-cache.js';
import { failedCells } from './failed-cells.js';
import { GroupedTransaction, LEAN_ROWS_PER_TRANSACTION, ROWS_PER_TRANSACTION } from './grouped-transaction.js';
import { prepareBatch, type PrepareContext, type PreparedBatch } from './prepare.js';
import { MembershipKeys } from './stored-users.js';
import { QueuedTransaction, SQLITE_BATCHES_IN_FLIGHT } from './queued-transaction.js';
import type { ImportWriter } from '../../db/statement-writer.js';
import { queueBatch, writeBatch, type AppliedRow, type WriteContext } from './write-batch.js';

export interface ApplyOptions {
  importId: number | null;
  /** Who runs the import: the actor of every event it writes. */
  actor: string;
  dryRun: boolean;
  /**
   * Lean-memory mode (src/xlsx/memory-mode.ts): a commit every 2,000 rows. Bigger commits (and the
   * deeper pipeline MySQL had then) cost ~25 MB of a 1M-row import's peak (312 → 285 MB,
   * measured with 2,000-row batches).
   */
  lean?: boolean | undefined;
  onProgress?: ((rows: number) => void) | undefined;
  signal?: AbortSignal | undefined;
  /**
   * The writer thread to write the batches through (openImportWriter), opened by the caller
   * before the rows come and closed by it; without one they go through knex on the import's own
   * connection.
   */
  writer?: ImportWriter | undefined;
}

/**
 * The writer thread an import will write through (undefined when it will not: a dry run,
 * import.atomic). processFile opens it while the reader's worker looks for the header: the
 * thread's start-up (its isolate, the driver, MySQL's handshake) then no longer holds up the first
 * batches' writes.
 *
 * Lean-memory mode (files over 32 MB), whose point is the smallest footprint, takes the thread on
 * MySQL only, with its young generation capped like the reader's. The bench's 1M-row file: MySQL
 * 104.9 → 72.9 s for 257 → 272 MB peak RSS; SQLite 48.3 → 43.6 s for 265 → 285 MB, too near the
 * 300 MB ceiling for a tenth of the time.
 */
export function openImportWriter(db: PipelineDeps['db'], settings: PipelineDeps['config']['import'], options: { dryRun: boolean; lean: boolean }): ImportWriter | undefined {
  if (options.dryRun || settings.atomic) return undefined;
  if (!options.lean) return db.openWriter();
  return db.dialect === 'mysql' ? db.openWriter({ youngGenerationMb: LEAN_WRITER_YOUNG_GENERATION_MB }) : undefined;
}

/** The writer thread's young generation in lean-memory mode: 8 MB, as the reader's worker's there (src/xlsx/memory-mode.ts). */
const LEAN_WRITER_YOUNG_GENERATION_MB = 8;

export interface ApplyTotals {
  counts: ReportCounts;
}

/** Thrown inside the atomic transaction to roll it back when any row failed. */
class AtomicRollback extends Error {}


export async function applyRows(deps: PipelineDeps & { clock: Clock }, batches: AsyncIterable<RawRow[]>, spool: RowSpool, options: ApplyOptions): Promise<ApplyTotals> {
  const { config, db } = deps;
  const settings = config.import;
  const catalog = await guard(db.location, () => loadCatalogCache(db.knex));
  const membershipKeys = new MembershipKeys(catalog);
  if (!options.dryRun) await db.checkpointInBackground();
  // Every command that writes ensures the configured catalogue first (app/configured-catalog.ts);
  // a dry run writes nothing, so the configured names count as existing, as they would then.
  const known = (entries: ReadonlyMap<string, unknown>, configured: readonly string[]) => {
    const keys = new Set(entries.keys());
    if (options.dryRun) for (const name of configured) keys.add(catalogKey(cleanCatalogName(name)));
    return keys;
  };
  /** Validation state for one pass over the file (its own register of usernames). */
  const prepareContext = (): PrepareContext => ({
    rules: {
      usernamePattern: compileUsernamePattern(settings.usernamePattern),
      passwordMinLength: settings.passwordMinLength,
      maxListItems: settings.maxListItems,
      roles: known(catalog.roles, config.catalog.roles),
      groups: known(catalog.groups, config.catalog.groups),
      createMissingGroups: settings.createMissingGroups,
      clearMarker: clearMarkerKey(settings.clearMarker),
    },
    seen: new UsernameIndex(),
    hasher: deps.hasher,
    passwordPolicy: settings.passwords,
    dialect: db.dialect,
    maxInParams: db.maxInParams,
    membershipKeys,
  });
  const writeContext = (): WriteContext => ({
    dialect: db.dialect,
    importId: options.importId,
    actor: options.actor,
    now: isoNow(deps.clock),
    dryRun: options.dryRun,
    catalog,
    createMissingGroups: settings.createMissingGroups,
    maxInsertRows: db.maxInsertRows,
    maxInParams: db.maxInParams,
  });

  let done = 0;
  const record = (rows: AppliedRow[]) => {
    // The spool keeps only the report's keys of each row (toRowRecord): `raw` goes no further.
    for (const row of rows) spool.add(row, row.status === 'failed' ? failedCells(row) : undefined);
    done += rows.length;
    options.onProgress?.(done);
  };

  if (options.dryRun) {
    const context = prepareContext();
    await pipelineBatches(batches, (rows) => prepareBatch(() => db.knex, rows, context), async (prepared) => {
      const outcome = await guard(db.location, () => writeBatch(db.knex, prepared, writeContext()));
      record(outcome.rows);
      await spool.ready();
      if (options.signal?.aborted) throw fail('IMPORT_INTERRUPTED');
    });
    return { counts: { ...spool.counts } };
  }

  // What a batch hands on once committed: its rows, and its audit lines as bytes. Held as
  // events — objects and JSON strings for up to 10,000 rows — they outlived young-generation
  // GCs and were copied into the old one: with 500-row batches, a 100k-row first load promoted
  // 73 MB instead of 36, and its scavenges took 0.48 s of the import's thread instead of 0.35.
  type Committed = { rows: AppliedRow[]; auditLines: StagedAuditLines };
  const onCommitted = async (outcomes: readonly Committed[]) => {
    for (const outcome of outcomes) {
      deps.audit.committedLines(outcome.auditLines);
      record(outcome.rows);
    }
    await spool.ready();
  };

  /** Prepares and writes every batch through `group`, committing as it goes; see GroupedTransaction. */
  const applyInGroups = async (group: { commit(): Promise<void>; rollback(): Promise<void> }, lookup: () => Knex | Promise<Knex>, write: (prepared: PreparedBatch) => Promise<void>): Promise<ApplyTotals> => {
    const context = prepareContext();
    try {
      await pipelineBatches(batches, (rows) => prepareBatch(lookup, rows, context), async (prepared) => {
        await guard(db.location, () => write(prepared));
        if (options.signal?.aborted) throw fail('IMPORT_INTERRUPTED');
      });
      await guard(db.location, () => group.commit());
    } catch (error) {
      // What was written before a failure elsewhere (the file, an interrupt) stays, as it did
      // when each batch committed on its own; a failed write has already rolled back.
      await guard(db.location, () => group.commit()).catch(() => group.rollback());
      throw error;
    }
    return { counts: { ...spool.counts } };
  };
  const rowsOf = (prepared: PreparedBatch) => prepared.intents.length + prepared.failed.length;

  // The batches' statements run on a thread of their own (db/statement-writer.ts).
  const { writer } = options;
  if (writer) {
    const inFlight = db.dialect === 'sqlite' ? SQLITE_BATCHES_IN_FLIGHT : 1;
    const group = new QueuedTransaction<Committed>(writer, options.lean ? LEAN_ROWS_PER_TRANSACTION : ROWS_PER_TRANSACTION, onCommitted, inFlight);
    const departments = new Set<string>();
    // Look-ups use the import's own connection, outside the writer's transaction (prepare.ts says why that is safe).
    return applyInGroups(group, () => db.knex, (prepared) =>
      group.write(rowsOf(prepared), async (queue) => {
        const result = await queueBatch(queue, prepared, { ...writeContext(), lookup: db.knex, departments });
        queue.queue(auditEventStatements(db, result.events));
        return { rows: result.rows, auditLines: deps.audit.stage(result.events) };
      }),
    );
  }

  if (!settings.atomic) {
    const group = new GroupedTransaction<Committed>(db.knex, options.lean ? LEAN_ROWS_PER_TRANSACTION : ROWS_PER_TRANSACTION, onCommitted);
    // The open transaction holds a connection until it commits. With no other one to spare
    // (SQLite's single connection, or a MySQL pool of one) look-ups run inside it: waiting for
    // another connection would wait for a commit that waits for the look-up.
    const shared = db.dialect === 'sqlite' || config.database.poolMax < 2;
    return applyInGroups(group, () => (shared ? group.handle() : db.knex), (prepared) =>
      group.write(rowsOf(prepared), async (trx) => {
        const result = await writeBatch(trx, prepared, writeContext());
        await deps.audit.record(trx, result.events);
        return { rows: result.rows, auditLines: deps.audit.stage(result.events) };
      }),
    );
  }

  // import.atomic: the whole file in one transaction; any failed row rolls everything back.
  try {
    await guard(db.location, () =>
      db.knex.transaction(async (trx) => {
        const context = prepareContext();
        await pipelineBatches(batches, (rows) => prepareBatch(() => trx, rows, context), async (prepared) => {
          const result = await writeBatch(trx, prepared, writeContext());
          await deps.audit.record(trx, result.events);
          record(result.rows);
          await spool.ready();
        });
        if (spool.counts.failed > 0) throw new AtomicRollback();
      }),
    );
  } catch (error) {
    if (!(error instanceof AtomicRollback)) throw error;
    return atomicRejection(spool.counts);
  }
  // Committed: now the audit log file may hear about it (streamed back, never held in memory).
  // import.started is the import's one event before its rows, logged already when it was written.
  if (options.importId !== null) {
    for await (const event of queryAuditEvents(db.knex, { importId: options.importId })) {
      if (event.action !== 'import.started') deps.audit.committed([event as AuditEvent]);
    }
  }
  return { counts: { ...spool.counts } };
}

/**
 * Batches prepared while one is written: one, on both databases and in lean-memory mode. It lets
 * the next batch's passwords hash and its stored users be looked up while this one is written.
 * A deeper pipeline only keeps more batches' rows alive through young-generation GCs: on MySQL,
 * three ahead (once needed, when the import's thread itself waited for each write) took the
 * import's thread's scavenges from ~0.30 to ~0.69 s of a 100k-row first load, and one instead
 * of three used ~0.2–0.37 s less CPU in the first load, re-import and 10%-changed import alike,
 * none of them slower (medians of four and five alternating runs). SQLite answers look-ups
 * synchronously: three ahead there cost a re-import 6.31 s of CPU instead of 5.87.
 */
const PREPARED_AHEAD = 1;

/** Prepares the next batches while one is written; order of writes is the file's order. */
async function pipelineBatches(batches: AsyncIterable<RawRow[]>, prepare: (rows: RawRow[]) => Promise<PreparedBatch>, write: (batch: PreparedBatch) => Promise<void>): Promise<void> {
  const pending: Array<Promise<PreparedBatch>> = [];
  for await (const rows of batches) {
    const next = prepare(rows);
    next.catch(() => undefined); // observed below; avoid an unhandled rejection while we wait
    pending.push(next);
    if (pending.length > PREPARED_AHEAD) await write(await pending.shift()!);
  }
  while (pending.length > 0) await write(await pending.shift()!);
}

function atomicRejection(counts: ReportCounts): never {
  throw fail('FILE_ROWS_FAILED_ATOMIC', {
    message: `${counts.failed} of ${counts.rows} rows failed and import.atomic is on, so nothing in the file was applied.`,
    details: { counts },
  });
}

async function guard<T>(location: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AtomicRollback) throw error;
    throw mapDatabaseError(error, location); // passes UsersyncErrors (file faults included) through
  }
}

/**
 * After an atomic import was rolled back nothing was applied: rows read back as what they would
 * have been, and the counts say nothing was created or updated.
 */
export async function* relabelRolledBack(rows: AsyncIterable<RowResult>): AsyncIterable<RowResult> {
  for await (const row of rows) {
    if (row.status === 'created') yield { ...row, status: 'would-create' };
    else if (row.status === 'updated') yield { ...row, status: 'would-update' };
    else yield row;
  }
}

export type { CatalogCache };
