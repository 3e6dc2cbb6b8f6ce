/**
 * GroupedTransaction's counterpart for SQLite's writer thread (db/sqlite-writer.ts): several
 * batches to a transaction, each batch's statements handed over as it is written, results and
 * audit-log lines handed on only once their transaction has committed.
 *
 * A batch's statements run while the next batch is prepared and queued; `write` returns once the
 * batch before it has run, so at most two batches' statements wait in memory. A failure on the
 * thread rolls its transaction back there and surfaces at the next wait, as the error of the
 * batch being written then: nothing of that transaction is handed on.
 */
import type { SqliteWriter } from '../../db/sqlite-writer.js';

export class QueuedTransaction<T> {
  private outcomes: T[] = [];
  private rows = 0;
  /** The last batch handed over, until the next one is. */
  private running: Promise<void> | undefined;

  constructor(
    private readonly writer: SqliteWriter,
    /** Commit once this many rows are in the transaction. */
    private readonly rowsPerTransaction: number,
    /** Called after each commit with what the committed batches did, in file order. */
    private readonly onCommitted: (outcomes: readonly T[]) => void | Promise<void>,
  ) {}

  /** Queues one batch's statements (`work`), hands them over, and commits once enough rows are in. */
  async write(rows: number, work: (writer: SqliteWriter) => Promise<T>): Promise<void> {
    try {
      this.outcomes.push(await work(this.writer));
      const sent = this.writer.send();
      sent.catch(() => undefined); // observed by the next write or the commit
      const before = this.running;
      this.running = sent;
      await before;
    } catch (error) {
      await this.rollback();
      throw error;
    }
    this.rows += rows;
    if (this.rows >= this.rowsPerTransaction) await this.commit();
  }

  /** Commits what is open (nothing written: nothing to do). A failed commit throws, and hands nothing on. */
  async commit(): Promise<void> {
    if (this.outcomes.length === 0) return;
    const outcomes = this.outcomes;
    this.reset();
    // The thread runs messages in order: the commit's reply comes after every batch's, and carries
    // the transaction's first failure if there was one.
    await this.writer.commit();
    await this.onCommitted(outcomes);
  }

  /** Rolls back what is open; never throws (it runs on the way out of another failure). */
  async rollback(): Promise<void> {
    this.reset();
    await this.writer.rollback();
  }

  private reset(): void {
    this.outcomes = [];
    this.rows = 0;
    this.running = undefined;
  }
}
