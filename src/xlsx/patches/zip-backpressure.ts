/**
 * Backpressure for exceljs' streaming WorkbookWriter, which has none (4.4.0).
 *
 * Each worksheet writes its XML into an internal StreamBuf that pushes 64 KiB chunks into the
 * zip (archiver) ignoring `write()`'s return value. Rows are produced faster than deflate
 * compresses them, so without a pause the whole uncompressed sheet piles up in memory: measured
 * ~200 bytes a row, 40 MB per 200,000 rows, and the file got 0 bytes until the end. Waiting here
 * whenever the zip's input queue is long keeps memory flat for a 1,000,000-row report.
 *
 * This reads exceljs/archiver internals (`_stream`, `pipes`, `_writableState`); every access is
 * guarded, so if a future version changes them the wait simply becomes a plain yield.
 *
 * Upstream (exceljs 4.4.0 lib/utils/stream-buf.js with archiver 5.3.2; versions in pinned.ts):
 * exceljs#734 (no backpressure in the streaming writer; open), also reported as #1894 and #2916.
 */
import { once } from 'node:events';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';

/** How much uncompressed sheet XML may wait for the zip before the writer pauses. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

interface InternalWritableState {
  length?: number;
}
interface InternalTarget extends NodeJS.EventEmitter {
  _writableState?: InternalWritableState;
}
interface InternalStreamBuf {
  /** Where the zip reads from once this sheet's turn in the archive has come. */
  pipes?: InternalTarget[];
  /** Chunks held while the zip is still busy with an earlier sheet (64 KiB each). */
  buffers?: unknown[];
}

/**
 * Resolves when `worksheet` (a streaming WorksheetWriter) has less than MAX_QUEUED_BYTES waiting
 * for the zip, and always yields to the event loop at least once so zlib callbacks can run.
 */
export async function waitForZip(worksheet: object | undefined): Promise<void> {
  await yieldToIo();
  const buf = (worksheet as { _stream?: InternalStreamBuf } | undefined)?._stream;
  if (!buf) return;
  for (;;) {
    const target = buf.pipes?.[0];
    if (target) {
      const queued = target._writableState?.length;
      if (typeof queued !== 'number' || queued <= MAX_QUEUED_BYTES) return;
      // readable-stream emits 'drain' once the queue is empty; a timeout guards against a missed one.
      // The guard must not hold the event loop: a referenced timer kept `usersync import` alive ~1 s
      // after its last report was written (found with an async_hooks trace of a 100k-row import).
      await Promise.race([once(target, 'drain'), sleep(1000, undefined, { ref: false })]);
      continue;
    }
    // Not piped yet: the zip is still finishing an earlier sheet; wait for it while the backlog is large.
    const held = (buf.buffers?.length ?? 0) * 64 * 1024;
    if (held <= MAX_QUEUED_BYTES) return;
    await sleep(10);
  }
}
