/**
 * Text encoded as UTF-8 straight into fixed-size buffers that are reused, instead of a fresh
 * Buffer (and a flattened string) per write: see append-file.ts for what that cost.
 */

/** Bytes per buffer, unless a pool says otherwise. */
export const CHUNK_BYTES = 256 * 1024;
/** UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_BYTES_PER_UNIT = 3;

/** Buffers of `chunkBytes` handed back once written, kept (up to `keep`) for the next writes. */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly keep: number,
    readonly chunkBytes = CHUNK_BYTES,
  ) {}

  take(): Buffer {
    // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared pool, so it can be kept.
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes);
  }

  /** Takes back a chunk `Utf8Chunks` filled (a view of a pooled buffer); anything else is left to the GC. */
  give(chunk: Uint8Array): void {
    if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== this.chunkBytes || this.free.length >= this.keep) return;
    this.free.push(Buffer.from(chunk.buffer));
  }
}

/**
 * Encodes text into the pool's buffers and hands each on (`emit`) when the next text may not fit.
 * A text longer than a whole buffer is handed on as its own chunk.
 */
export class Utf8Chunks {
  private current: Buffer;
  private used = 0;

  constructor(
    private readonly pool: BufferPool,
    private readonly emit: (chunk: Buffer) => void,
  ) {
    this.current = pool.take();
  }

  write(text: string): void {
    if (text.length * MAX_BYTES_PER_UNIT > this.current.length - this.used) {
      const bytes = Buffer.byteLength(text);
      if (bytes > this.current.length - this.used) {
        this.flush();
        if (bytes > this.current.length) return this.emit(Buffer.from(text));
      }
    }
    this.used += this.current.write(text, this.used);
  }

  /** Copies bytes in (a run longer than a whole buffer is handed on as a chunk of its own). */
  writeBytes(bytes: Uint8Array): void {
    if (bytes.length > this.current.length - this.used) {
      this.flush();
      if (bytes.length > this.current.length) return this.emit(Buffer.from(bytes));
    }
    this.current.set(bytes, this.used);
    this.used += bytes.length;
  }

  writeLine(text: string): void {
    this.write(text);
    if (this.used === this.current.length) this.flush();
    this.current[this.used++] = 0x0a;
  }

  /** Hands on what the current buffer holds (nothing when it is empty) and starts another. */
  flush(): void {
    if (this.used === 0) return;
    const filled = this.current.subarray(0, this.used);
    this.current = this.pool.take();
    this.used = 0;
    this.emit(filled);
  }
}
