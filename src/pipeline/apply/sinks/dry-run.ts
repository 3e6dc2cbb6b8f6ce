/**
 * A dry run: each batch's change set is worked out and its rows reported as they would be
 * (`would-create`, `would-update`); nothing is written, so no audit event is either.
 */
import { buildChangeSet } from '../change-set.js';
import type { BatchSink, SinkContext } from './batch-sink.js';

export function dryRunSink(ctx: SinkContext): BatchSink {
  return {
    lookup: () => ctx.db.knex,
    interruptible: true,
    async write(batch) {
      ctx.record(buildChangeSet(batch, ctx.batchContext()).rows);
      await ctx.spool.ready();
    },
    async pass(rows) {
      ctx.record(rows);
      await ctx.spool.ready();
    },
    finish: async () => undefined,
    abandon: async () => undefined,
  };
}
