/**
 * GroupedTransaction's counterpart for a writer thread (db/statement-writer.ts): several
 * batches to a transaction, each batch's statements handed over as it is written, results and
 * audit-log lines handed on only once their transaction has committed.
 *
 * A batch's statements run while the next ones are prepared and queued; `write` returns once the
 * batch `batchesInFlight` (1 or 2) before it has run, so at most two or three batches' statements
 * wait in memory. Commits are sent without waiting for them (one at a time). A failure on the
 * thread rolls its transaction back there and surfaces at the next wait, as the error of the batch
 * being written then: nothing of that transaction is handed on.
 */
import type { ChainedEvents, ImportWriter } from '../../db/statement-writer.js';

export class QueuedTransaction<T> {
  private outcomes: T[] = [];
  private rows = 0;
  /** The batches handed over and not yet waited for, oldest first. */
  private running: Array<Promise<void>> = [];
  /** The last commit sent and what it hands on, until it has done so (the next commit waits for it). */
  private committing: Promise<void> = Promise.resolve();
  /** Why a commit already sent failed: every later write fails with it. */
  private failedCommit: { error: unknown } | undefined;

  constructor(
    private readonly writer: ImportWriter,
    /** Commit once this many rows are in the transaction. */
    private readonly rowsPerTransaction: number,
    /** Called after each commit with what the committed batches did, in file order. */
    private readonly onCommitted: (outcomes: readonly T[]) => void | Promise<void>,
    /** Batches handed over that `write` does not wait for (the store's writerThread.batchesInFlight). */
    private readonly batchesInFlight = 1,
    /** Told, before its commit is handed on, where a batch's audit events went in the chain. */
    private readonly onChained: (outcome: T, chained: ChainedEvents) => void = () => undefined,
  ) {}

  /** Queues one batch's statements (`work`), hands them over, and sends a commit once enough rows are in. */
  async write(rows: number, work: (writer: ImportWriter) => Promise<T>): Promise<void> {
    try {
      const outcome = await work(this.writer);
      this.outcomes.push(outcome);
      // The reply comes before its commit's: the outcome knows its chain before it is handed on.
      const sent = this.writer.send().then((chained) => {
        if (chained) this.onChained(outcome, chained);
      });
      sent.catch(() => undefined); // observed by the next write or the commit
      this.running.push(sent);
      if (this.running.length > this.batchesInFlight) await this.running.shift();
      if (this.failedCommit) throw this.failedCommit.error;
      this.rows += rows;
      if (this.rows >= this.rowsPerTransaction) {
        // One commit in flight at a time: what waits to be handed on stays at a transaction's worth.
        await this.committing;
        this.sendCommit();
      }
    } catch (error) {
      await this.rollback();
      throw error;
    }
  }

  /** Commits what is open and waits for every commit sent to have handed its outcomes on; throws if any failed. */
  async commit(): Promise<void> {
    if (this.outcomes.length > 0) this.sendCommit();
    await this.committing;
  }

  /** Rolls back what is open; never throws (it runs on the way out of another failure). */
  async rollback(): Promise<void> {
    this.reset();
    await this.writer.rollback();
  }

  /**
   * Sends the commit without waiting for it: the thread runs it after the batches before it, while
   * this thread prepares the next ones (a wait for each commit would idle the import's thread,
   * ~0.16 s of a 100k-row first load). Its outcomes are handed on once it has committed; if it
   * fails, nothing of it is, and the next write or commit throws its error.
   */
  private sendCommit(): void {
    const outcomes = this.outcomes;
    this.reset();
    // The thread runs messages in order: the commit's reply comes after every batch's, and carries
    // the transaction's first failure if there was one.
    const committed = this.writer.commit();
    committed.catch(() => undefined); // awaited below, once the commit before it has handed on
    this.committing = this.committing.then(async () => {
      await committed;
      await this.onCommitted(outcomes);
    });
    this.committing.catch((error: unknown) => {
      this.failedCommit ??= { error };
    });
  }

  private reset(): void {
    this.outcomes = [];
    this.rows = 0;
    this.running = [];
  }
}
