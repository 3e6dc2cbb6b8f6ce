/**
 * A small single-consumer queue of row batches that can end or fail, and a wall-clock watchdog
 * that can be paused while the consumer (not the parser) is the slow one.
 */

/** Batches of type T (the xlsx reader queues each batch as its JSON text). */
export class BatchQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private error: unknown;
  private failed = false;
  private wake: (() => void) | undefined;

  get length(): number {
    return this.items.length;
  }

  push(batch: T): void {
    if (this.ended || this.failed) return;
    this.items.push(batch);
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  /** Fails the queue: queued batches are dropped, the next `next()` throws. First failure wins. */
  fail(error: unknown): void {
    if (this.failed || this.ended) return;
    this.failed = true;
    this.error = error;
    this.items.length = 0;
    this.signal();
  }

  /** The next batch; undefined at the end; throws the failure. */
  async next(): Promise<T | undefined> {
    for (;;) {
      if (this.failed) throw this.error;
      const batch = this.items.shift();
      if (batch !== undefined) return batch;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Fires `onExpire` once `budgetMs` of running (unpaused) time has passed. */
export class Watchdog {
  private remaining: number;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    budgetMs: number,
    private readonly onExpire: () => void,
  ) {
    this.remaining = budgetMs;
    this.resume();
  }

  pause(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remaining -= Date.now() - this.startedAt;
  }

  resume(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(
      () => {
        this.stopped = true;
        this.onExpire();
      },
      Math.max(0, this.remaining),
    );
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
