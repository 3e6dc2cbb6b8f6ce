/**
 * Batches written through knex on the import's own connection, several to a transaction
 * (grouped-transaction.ts): where there is no writer thread (SQLite's `:memory:`, lean-memory mode
 * on SQLite).
 */
import { buildChangeSet } from '../change-set.js';
import { GroupedTransaction } from '../grouped-transaction.js';
import { writeChangeSet } from '../write-change-set.js';
import {
  NO_AUDIT_LINES,
  handOnCommitted,
  rowsOf,
  type BatchSink,
  type Committed,
  type SinkContext,
} from './batch-sink.js';

export function groupedSink(ctx: SinkContext): BatchSink {
  const { db } = ctx;
  const group = new GroupedTransaction<Committed>(db.knex, ctx.rowsPerTransaction, handOnCommitted(ctx));
  return {
    // The open transaction holds a connection until it commits: with none to spare, look-ups run inside it.
    lookup: () => (db.capabilities.singleConnection ? group.handle() : db.knex),
    interruptible: true,
    write: (batch) =>
      group.write(rowsOf(batch), async (trx) => {
        const context = ctx.batchContext();
        const changes = buildChangeSet(batch, context);
        const events = await writeChangeSet(trx, changes, context, db);
        await ctx.audit.record(trx, events);
        return { rows: changes.rows, auditLines: ctx.audit.stage(events) };
      }),
    pass: (rows) => group.write(rows.length, async () => ({ rows, auditLines: NO_AUDIT_LINES })),
    finish: () => group.commit(),
    // What was written before a failure elsewhere (the file, an interrupt) stays, as a commit per
    // batch would have kept it; a failed write has already rolled its transaction back.
    abandon: () => group.commit().catch(() => group.rollback()),
  };
}
