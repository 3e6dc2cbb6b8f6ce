/**
 * Appends text to a file through a few fixed buffers reused for the life of the file.
 *
 * Why not a `fs.WriteStream`: every `stream.write(text)` turns the text into a fresh Buffer, and the
 * big ones (a batch's audit lines joined, ~1 MB) also flatten into a fresh string first. On the
 * VMs this runs on a page fault is dear, and fresh memory is all page faults: turning text into
 * Buffers cost ~0.26 s of a 100k-row first load's main thread for the audit log (50 MB of lines)
 * and ~0.1 s for the row spool; here, the audit log's lines 0.12 s. Text is encoded straight into
 * buffers whose pages stay mapped (io/utf8-chunks.ts), written in order, one `writev` at a time,
 * by the end of the event loop's turn in which they were written.
 *
 * `write` is synchronous and never blocks: when every buffer is waiting for the disk another one
 * is made (kept afterwards only up to `KEEP_BUFFERS`); callers that produce without end await
 * `ready()` between batches, as they did a stream's drain.
 */
import { close, open, writev } from 'node:fs';
import { BufferPool, CHUNK_BYTES, Utf8Chunks } from './utf8-chunks.js';

/** Free buffers kept for reuse; more are made while the disk lags, and dropped once it catches up. */
const KEEP_BUFFERS = 3;
/** Chunks one `writev` takes at most (Linux's IOV_MAX is 1,024). */
const MAX_CHUNKS_PER_WRITE = 256;

export interface AppendFileOptions {
  /** `a` to append to what is there (the audit log), `w` to start empty (spool files). */
  flags: 'a' | 'w';
  mode: number;
}

export class AppendFile {
  private fd: number | undefined;
  private readonly pool = new BufferPool(KEEP_BUFFERS);
  private readonly text = new Utf8Chunks(this.pool, (chunk) => this.enqueue(chunk, this.giveBack));
  /**
   * Filled chunks not yet written, oldest first, each with whom to hand it back to once written
   * and how much of it is (after a short write); the first `inFlight` are being written.
   */
  private readonly queue: Array<{ chunk: Uint8Array; release: (chunk: Uint8Array) => void; done: number }> = [];
  private inFlight = 0;
  private flushScheduled = false;
  /** Bytes queued and not yet written. */
  private queuedBytes = 0;
  private writing = false;
  private written = 0;
  private failure: Error | undefined;
  private ending = false;
  private destroyed = false;
  private finishing = false;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(
    readonly path: string,
    options: AppendFileOptions,
  ) {
    open(path, options.flags, options.mode, (error, fd) => {
      // Destroyed while opening: nothing is wanted of the file any more.
      if (this.closed) return error ? undefined : close(fd, () => undefined);
      if (error) return this.fail(error);
      this.fd = fd;
      this.pump();
    });
  }

  /** The first error the file met (opening or writing it); later text is dropped. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Bytes the disk has taken so far (all of them once `close()` has resolved). */
  get bytesWritten(): number {
    return this.written;
  }

  /** Appends text as it is. */
  write(text: string): void {
    if (this.failure || this.ending) return;
    this.text.write(text);
    this.flushSoon();
  }

  /** Appends text and a line break. */
  writeLine(text: string): void {
    if (this.failure || this.ending) return;
    this.text.writeLine(text);
    this.flushSoon();
  }

  /**
   * Appends chunks of bytes as they are, without copying them: each is handed to `release` once
   * written (or dropped), and must not change until then.
   */
  writeChunks(chunks: readonly Uint8Array[], release: (chunk: Uint8Array) => void): void {
    if (this.failure || this.ending) {
      for (const chunk of chunks) release(chunk);
      return;
    }
    this.text.flush();
    for (const chunk of chunks) this.enqueue(chunk, release);
  }

  /** Resolves once the disk is at most about one buffer behind. */
  async ready(): Promise<void> {
    while (this.queuedBytes > CHUNK_BYTES && !this.failure && !this.closed) await this.nextWrite();
  }

  /** Writes out what is buffered and closes the file; resolves when it is closed (or failed). */
  async close(): Promise<void> {
    if (!this.ending) {
      this.text.flush();
      this.ending = true;
      this.pump();
    }
    while (!this.closed) await this.nextWrite();
  }

  /** Stops without writing what is buffered (the spool's files are removed right after). */
  destroy(): void {
    this.ending = true;
    this.destroyed = true;
    this.dropQueued();
    // A write in flight finishes first (its callback closes the file).
    if (!this.writing) this.finish();
  }

  /**
   * Text waits in a part-filled buffer only until this turn of the event loop ends: a daemon's
   * audit line must reach the file when it happens, not when 256 KB more have followed it.
   */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.ending) this.text.flush();
    });
  }

  private readonly giveBack = (chunk: Uint8Array): void => this.pool.give(chunk);

  private enqueue(chunk: Uint8Array, release: (chunk: Uint8Array) => void): void {
    // An empty chunk would stay at the head of the queue: a write of nothing never moves past it.
    if (chunk.length === 0) return release(chunk);
    this.queue.push({ chunk, release, done: 0 });
    this.queuedBytes += chunk.length;
    this.pump();
  }

  /**
   * Starts writing everything queued when no write is in flight: one `writev` at a time, so the
   * file keeps the order. All of it, not one chunk: the main thread hears a write is done only
   * when it yields, and at one chunk a turn a 1M-row import's audit lines piled up behind the disk
   * (peak RSS 666 MB instead of ~260).
   */
  private pump(): void {
    if (this.writing || this.fd === undefined || this.closed) return;
    if (this.queue.length === 0) {
      if (this.ending) this.finish();
      return;
    }
    this.writing = true;
    this.inFlight = Math.min(this.queue.length, MAX_CHUNKS_PER_WRITE);
    const views = this.queue
      .slice(0, this.inFlight)
      .map(({ chunk, done }) => (done === 0 ? chunk : chunk.subarray(done)));
    writev(this.fd, views, null, (error, bytes) => {
      this.writing = false;
      this.inFlight = 0;
      if (this.destroyed) {
        this.dropQueued();
        return this.finish();
      }
      if (error) return this.fail(error);
      this.written += bytes;
      this.queuedBytes -= bytes;
      // A short write (a full disk about to fail, a signal) goes on from where it stopped.
      for (let left = bytes; left > 0;) {
        const head = this.queue[0]!;
        const rest = head.chunk.length - head.done;
        if (left < rest) {
          head.done += left;
          break;
        }
        left -= rest;
        this.queue.shift();
        head.release(head.chunk);
      }
      this.wake();
      this.pump();
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.dropQueued();
    this.ending = true;
    this.finish();
  }

  /** Hands every queued chunk back unwritten (those in flight stay until their write returns). */
  private dropQueued(): void {
    const dropped = this.queue.splice(this.inFlight);
    for (const { chunk, release, done } of dropped) {
      this.queuedBytes -= chunk.length - done;
      release(chunk);
    }
  }

  /** Closes the descriptor (once) and wakes whoever waits. */
  private finish(): void {
    if (this.finishing) return;
    this.finishing = true;
    const fd = this.fd;
    const done = (): void => {
      this.closed = true;
      this.wake();
    };
    // Still opening (or it failed to): the open's callback closes what it opened.
    if (fd === undefined) return done();
    this.fd = undefined;
    close(fd, (error) => {
      if (error) this.failure ??= error;
      done();
    });
  }

  private nextWrite(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
