/**
 * The apply stage: takes the reader's batches, validates and hashes each (prepare.ts), works out
 * what it changes (change-set.ts) and hands it to the sink of the import's mode (sinks/): a dry
 * run, a writer thread, grouped transactions on the import's connection, or one transaction for
 * the whole file with import.atomic.
 * The next batch is prepared while one is written, so argon2 and reading overlap the database.
 */
import { tmpdir } from 'node:os';
import type { Knex } from 'knex';
import { catalogKey, cleanCatalogName } from '../../domain/catalog-name.js';
import type { RawRow } from '../../domain/columns.js';
import { GuardTally } from '../../domain/guards.js';
import { compileUsernamePattern } from '../../domain/username.js';
import { protectedNames, protectedUserMatcher } from '../../domain/protected.js';
import { clearMarkerKey } from '../../domain/row-intent.js';
import { UsernameIndex } from '../../domain/username-index.js';
import { withDatabaseErrors } from '../../db/errors.js';
import type { ImportWriter } from '../../db/statement-writer.js';
import { isoNow, type Clock } from '../../db/time.js';
import { fail } from '../../errors.js';
import type { PipelineDeps } from '../import-request.js';
import type { ReportCounts, RowResult, RowSpool } from '../report/index.js';
import { loadCatalogCache, type CatalogCache } from './catalog-cache.js';
import type { AppliedRow } from './change-set.js';
import { failedCells } from './failed-cells.js';
import { LEAN_ROWS_PER_TRANSACTION, ROWS_PER_TRANSACTION } from './grouped-transaction.js';
import { prepareBatch, type PrepareContext, type PreparedBatch } from './prepare.js';
import { MembershipKeys } from './stored-users.js';
import { checkNoDrift, decide, planBatch, tallyBatch, type GuardDecision, type SafetySettings } from './plan.js';
import { PlanSpool, type PlannedBatch } from './plan-spool.js';
import { lastAppliedRows } from '../../db/repositories/imports.js';
import { MirrorPlan, type MirrorSettings } from './mirror.js';
import { rowsOf } from './sinks/batch-sink.js';
import { atomicSink } from './sinks/atomic.js';
import type { BatchSink, SinkContext } from './sinks/batch-sink.js';
import { dryRunSink } from './sinks/dry-run.js';
import { groupedSink } from './sinks/grouped.js';
import { writerThreadSink } from './sinks/writer-thread.js';

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
  /** The import's feed (SPEC §8): the users it creates are owned by it. */
  feed: string;
  /** Set when the feed is a mirror (SPEC §8, mirror.ts): its absent users are deactivated. */
  mirror?: MirrorSettings | undefined;
  /**
   * Plan before write (SPEC §9, plan.ts): the settings the plan is checked against; undefined
   * with safety.enabled false. A dry run counts the guards as it goes; an import that writes
   * plans the whole file first.
   */
  safety?: SafetySettings | undefined;
  /**
   * Called once a planned import is to be applied, before its first write, with the guards'
   * decision: it audits guards let through (import-steps.ts), and runs ImportHooks.afterPlan.
   */
  beforeWrite?: ((decision: GuardDecision) => Promise<void>) | undefined;
}

/**
 * The writer thread an import will write through (undefined when it will not: a dry run,
 * import.atomic, a store without one). processFile opens it while the reader's worker looks for
 * the header: the thread's start-up (its isolate, the driver, MySQL's handshake) then no longer
 * holds up the first batches' writes. Lean-memory mode, whose point is the smallest footprint,
 * takes it only where the store's capability names a young generation for it.
 */
export function openImportWriter(
  db: PipelineDeps['db'],
  settings: PipelineDeps['config']['import'],
  options: { dryRun: boolean; lean: boolean },
): ImportWriter | undefined {
  if (options.dryRun || settings.atomic) return undefined;
  if (!options.lean) return db.openWriter();
  const youngGenerationMb = db.capabilities.writerThread?.leanYoungGenerationMb;
  return youngGenerationMb === undefined ? undefined : db.openWriter({ youngGenerationMb });
}

/**
 * How a batch becomes a prepared batch: prepareBatch (a file's raw rows, validated and hashed) by
 * default; a revert (pipeline/revert/) makes its intents from the audit trail instead. `handle`
 * names the connection the stored users are read on.
 */
export type PrepareWith<T> = (
  handle: () => Knex | Promise<Knex>,
  batch: T,
  context: PrepareContext,
) => Promise<PreparedBatch>;

export interface ApplyTotals {
  counts: ReportCounts;
  /** With safety on: the guards' verdict (for a dry run, what it would have been). */
  guards?: GuardDecision;
  /** A mirror import's roster step, written in the transaction that closes the register (mirror.ts). */
  settle?: MirrorPlan['settle'] | undefined;
}

export async function applyRows<T = RawRow[]>(
  deps: PipelineDeps & { clock: Clock },
  batches: AsyncIterable<T>,
  spool: RowSpool,
  options: ApplyOptions & { prepare?: PrepareWith<T> | undefined },
): Promise<ApplyTotals> {
  const { config, db } = deps;
  const prepareWith = options.prepare ?? (prepareBatch as unknown as PrepareWith<T>);
  const settings = config.import;
  const guard = <T>(work: () => Promise<T>) => withDatabaseErrors(db.location, work);
  const catalog = await guard(() => loadCatalogCache(db.knex));
  if (!options.dryRun) await db.checkpointInBackground();
  // Every command that writes ensures the configured catalogue first (app/configured-catalog.ts);
  // a dry run writes nothing, so the configured names count as existing, as they would then.
  const known = (entries: ReadonlyMap<string, unknown>, configured: readonly string[]) => {
    const keys = new Set(entries.keys());
    if (options.dryRun) for (const name of configured) keys.add(catalogKey(cleanCatalogName(name)));
    return keys;
  };
  /** Validation state for the pass over the file (its own register of usernames). */
  const prepareContext: PrepareContext = {
    rules: {
      usernamePattern: compileUsernamePattern(settings.usernamePattern),
      passwordMinLength: settings.passwordMinLength,
      maxListItems: settings.maxListItems,
      roles: known(catalog.roles, config.catalog.roles),
      groups: known(catalog.groups, config.catalog.groups),
      createMissingGroups: settings.createMissingGroups,
      clearMarker: clearMarkerKey(settings.clearMarker),
      // Protected accounts are not guards: they hold whatever safety.enabled says (SPEC §9).
      isProtectedUser: protectedUserMatcher(config.safety.protectedUsers),
    },
    seen: new UsernameIndex(),
    hasher: deps.hasher,
    passwordPolicy: settings.passwords,
    dialect: db.dialect,
    maxInParams: db.maxInParams,
    protectedRoles: protectedNames(config.safety.protectedRoles),
    membershipKeys: new MembershipKeys(catalog),
    onDatabase: guard,
  };

  let done = 0;
  // A held import's rows are reported as a dry run's are: what the file would have done.
  let wouldBe = options.dryRun;
  const context: SinkContext = {
    db,
    audit: deps.audit,
    spool,
    importId: options.importId,
    batchContext: () => ({
      importId: options.importId,
      actor: options.actor,
      now: isoNow(deps.clock),
      dryRun: wouldBe,
      catalog,
      createMissingGroups: settings.createMissingGroups,
      feed: options.feed,
    }),
    record(rows: readonly AppliedRow[]) {
      // The spool keeps only the report's keys of each row (toRowRecord): `raw` goes no further.
      for (const row of rows) spool.add(row, row.status === 'failed' ? failedCells(row) : undefined);
      done += rows.length;
      options.onProgress?.(done);
    },
    rowsPerTransaction: options.lean ? LEAN_ROWS_PER_TRANSACTION : ROWS_PER_TRANSACTION,
  };
  const { safety } = options;
  const tally = safety ? new GuardTally(safety.privileged) : undefined;
  const mirror = options.mirror ? new MirrorPlan(options.mirror) : undefined;
  let dataRows = 0;
  /** What every prepared batch goes through before it is counted: the mirror's notes, the row count. */
  const note = (batch: PreparedBatch) => {
    mirror?.noteBatch(batch);
    dataRows += rowsOf(batch);
  };
  /** The roster step (SPEC §8): who the file leaves out, counted for the guards. */
  const planRoster = async () => {
    if (!mirror) return;
    await guard(() => mirror.findAbsent(db.knex, prepareContext.seen));
    if (!tally) return;
    tally.countUsers(
      'deactivate',
      mirror.deactivate.map((user) => user.username),
    );
    const last = await guard(() => lastAppliedRows(db.knex, mirror.settings.feed));
    // Rounded up: a drop of 20.4 % is more than a limit of 20.
    if (last > 0 && dataRows < last) tally.set('rowDropPercent', Math.ceil(((last - dataRows) * 100) / last));
  };
  /** The roster's deactivations as report rows, after the file's own. */
  const reportRoster = () => {
    for (const user of mirror?.deactivate ?? [])
      spool.add({
        row: null,
        username: user.username,
        status: wouldBe ? 'would-deactivate' : 'deactivated',
        changes: ['active'],
      });
  };
  const totals = (decision?: GuardDecision): ApplyTotals => ({
    counts: { ...spool.counts },
    ...(decision ? { guards: decision } : {}),
    ...(mirror && !wouldBe ? { settle: (trx, ctx) => mirror.settle(trx, ctx) } : {}),
  });

  if (!safety || !tally || options.dryRun) {
    const sink = chooseSink(context, options, settings.atomic);
    const prepare = async (rows: T) => {
      const prepared = await prepareWith(sink.lookup, rows, prepareContext);
      note(prepared);
      if (tally) tallyBatch(tally, prepared);
      return prepared;
    };
    await writeAll(sink, batches, prepare, options.signal, guard);
    await planRoster();
    reportRoster();
    return totals(safety && tally ? decide(tally, safety) : undefined);
  }

  // Plan before write: the whole file prepared and counted, nothing written, then checked.
  const plan = PlanSpool.create(tmpdir());
  try {
    await pipelineBatches(
      batches,
      (rows) => prepareWith(() => db.knex, rows, prepareContext),
      async (batch) => {
        note(batch);
        await plan.append(planBatch(tally, batch));
        if (options.signal?.aborted) throw fail('IMPORT_INTERRUPTED');
      },
    );
    await planRoster();
    const decision = decide(tally, safety);
    if (decision.held) {
      wouldBe = true;
      await writeAll(dryRunSink(context), plan.batches(), async (planned) => toWrite(planned), undefined, guard);
      reportRoster();
      return totals(decision);
    }
    await options.beforeWrite?.(decision);
    const sink = chooseSink(context, options, settings.atomic);
    const checked = async (planned: PlannedBatch) => {
      if ('batch' in planned) await checkNoDrift(await sink.lookup(), planned, prepareContext);
      return toWrite(planned);
    };
    await writeAll(sink, plan.batches(), checked, options.signal, guard);
    reportRoster();
    return totals(decision);
  } finally {
    await plan.dispose();
  }
}

/** A spooled batch as the sink takes it: a batch to write, or the report rows of one that writes nothing. */
const toWrite = (planned: PlannedBatch): PreparedBatch | { rows: AppliedRow[] } =>
  'batch' in planned ? planned.batch : planned;

/** Sends every batch, prepared one ahead, to the sink; on any failure the sink keeps or rolls back what it must. */
async function writeAll<T>(
  sink: BatchSink,
  items: AsyncIterable<T>,
  prepare: (item: T) => Promise<PreparedBatch | { rows: AppliedRow[] }>,
  signal: AbortSignal | undefined,
  guard: <R>(work: () => Promise<R>) => Promise<R>,
): Promise<void> {
  try {
    await pipelineBatches(items, prepare, async (prepared) => {
      await guard(() => ('intents' in prepared ? sink.write(prepared) : sink.pass(prepared.rows)));
      if (sink.interruptible && signal?.aborted) throw fail('IMPORT_INTERRUPTED');
    });
    await guard(() => sink.finish());
  } catch (error) {
    await sink.abandon();
    throw error;
  }
}

/** The sink of the import's mode: a dry run, the writer thread when there is one, else knex. */
function chooseSink(context: SinkContext, options: ApplyOptions, atomic: boolean): BatchSink {
  if (options.dryRun) return dryRunSink(context);
  if (options.writer) return writerThreadSink(context, options.writer);
  return atomic ? atomicSink(context) : groupedSink(context);
}

/**
 * Batches prepared while one is written: one, on both databases and in lean-memory mode. It lets
 * the next batch's passwords hash and its stored users be looked up while this one is written.
 * A deeper pipeline only keeps more batches' rows alive through young-generation GCs: on MySQL,
 * three ahead took the import's thread's scavenges from ~0.30 to ~0.69 s of a 100k-row first
 * load and ~0.2–0.37 s more CPU in the first load, re-import and 10%-changed import alike, none of
 * them faster. SQLite answers look-ups synchronously: three ahead cost a re-import 6.31 s of CPU
 * instead of 5.87.
 */
const PREPARED_AHEAD = 1;

/** Prepares the next batches while one is written; order of writes is the file's order. */
async function pipelineBatches<T, P>(
  batches: AsyncIterable<T>,
  prepare: (item: T) => Promise<P>,
  write: (batch: P) => Promise<void>,
): Promise<void> {
  const pending: Array<Promise<P>> = [];
  for await (const item of batches) {
    const next = prepare(item);
    next.catch(() => undefined); // observed below: no unhandled rejection while it waits its turn
    pending.push(next);
    if (pending.length > PREPARED_AHEAD) await write(await pending.shift()!);
  }
  while (pending.length > 0) await write(await pending.shift()!);
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
