/**
 * Batches written on a writer thread (db/statement-writer.ts), several to a transaction
 * (queued-transaction.ts): the import's thread builds and queues the next batch's statements while
 * the thread runs this one's. Look-ups use the import's own connection, outside the writer's
 * transaction (prepare.ts says why that is safe).
 */
import { auditEventStatements } from '../../../db/repositories/audit.js';
import type { ImportWriter } from '../../../db/statement-writer.js';
import { buildChangeSet } from '../change-set.js';
import { queueChangeSet, type QueueState } from '../queue-change-set.js';
import { QueuedTransaction } from '../queued-transaction.js';
import {
  NO_AUDIT_LINES,
  handOnCommitted,
  rowsOf,
  type BatchSink,
  type Committed,
  type SinkContext,
} from './batch-sink.js';

export function writerThreadSink(ctx: SinkContext, writer: ImportWriter): BatchSink {
  const { db } = ctx;
  const inFlight = db.capabilities.writerThread?.batchesInFlight ?? 1;
  const group = new QueuedTransaction<Committed>(
    writer,
    ctx.rowsPerTransaction,
    handOnCommitted(ctx),
    inFlight,
    (outcome, chained) => {
      outcome.auditLines = { ...outcome.auditLines, chained };
    },
  );
  const state: QueueState = { lookup: db.knex, departments: new Set() };
  return {
    lookup: () => db.knex,
    interruptible: true,
    write: (batch) =>
      group.write(rowsOf(batch), async (queue) => {
        const context = ctx.batchContext();
        const changes = buildChangeSet(batch, context);
        const events = await queueChangeSet(queue, changes, context, db, state);
        queue.queue(auditEventStatements(db, events));
        return { rows: changes.rows, auditLines: ctx.audit.stage(events) };
      }),
    pass: (rows) => group.write(rows.length, async () => ({ rows, auditLines: NO_AUDIT_LINES })),
    finish: () => group.commit(),
    // What was written before a failure elsewhere (the file, an interrupt) stays, as a commit per
    // batch would have kept it; a failed write has already rolled its transaction back.
    abandon: () => group.commit().catch(() => group.rollback()),
  };
}
