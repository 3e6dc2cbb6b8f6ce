/**
 * import.atomic: the whole file in one transaction, committed only if every row applied; any
 * failed row rolls everything back and rejects the file (FILE_ROWS_FAILED_ATOMIC). Rows are
 * reported as they are written, so a rejected file's report still lists them (relabelRolledBack).
 * A stop signal does not cut it short: stopping part-way could only throw the whole file's work away.
 */
import type { Knex } from 'knex';
import { queryAuditEvents, type AuditEvent } from '../../../db/repositories/audit.js';
import { fail } from '../../../errors.js';
import type { ReportCounts } from '../../report/index.js';
import { buildChangeSet } from '../change-set.js';
import { writeChangeSet } from '../write-change-set.js';
import type { BatchSink, SinkContext } from './batch-sink.js';

export function atomicSink(ctx: SinkContext): BatchSink {
  const { db, spool } = ctx;
  let pending: Promise<Knex.Transaction> | undefined;
  const transaction = () => (pending ??= db.knex.transaction());
  const rollback = async () => {
    const open = pending;
    pending = undefined;
    try {
      const trx = await open;
      if (trx && !trx.isCompleted()) await trx.rollback();
    } catch {
      // The connection is gone or the transaction never began: nothing was committed either way.
    }
  };
  return {
    lookup: transaction,
    interruptible: false,
    async write(batch) {
      const trx = await transaction();
      const context = ctx.batchContext();
      const changes = buildChangeSet(batch, context);
      await ctx.audit.record(trx, await writeChangeSet(trx, changes, context, db));
      ctx.record(changes.rows);
      await spool.ready();
    },
    async pass(rows) {
      ctx.record(rows);
      await spool.ready();
    },
    async finish() {
      if (spool.counts.failed > 0) {
        await rollback();
        atomicRejection(spool.counts);
      }
      const trx = await transaction();
      // Without a handler, knex reports a failed COMMIT only through executionPromise.
      await trx.commit();
      await trx.executionPromise;
      pending = undefined;
      // Committed: now the audit log file may hear about it (streamed back, never held in memory).
      // import.started is the import's one event before its rows, logged already when it was written.
      const { importId } = ctx;
      if (importId === null) return;
      for await (const event of queryAuditEvents(db.knex, { importId })) {
        if (event.action !== 'import.started') ctx.audit.committed([event as AuditEvent]);
      }
    },
    abandon: rollback,
  };
}

function atomicRejection(counts: ReportCounts): never {
  throw fail('FILE_ROWS_FAILED_ATOMIC', {
    message: `${counts.failed} of ${counts.rows} rows failed and import.atomic is on, so nothing in the file was applied.`,
    details: { counts },
  });
}
