/**
 * An import's audit log lines between the batch that makes them and the commit that lets them be
 * written: UTF-8 in pooled buffers, off the JS heap (held as strings until their commit, a 100k-row
 * first load peaked ~40 MB higher: see batch-sink.ts `Committed`), with where each line ends, so
 * that at the commit each is written with its place in the chain — which the writer thread that
 * hashes the events only reports once it has run their batch.
 */
import type { ChainedEvents } from '../db/statement-writer.js';
import { Utf8Chunks, type BufferPool } from '../io/utf8-chunks.js';

export interface StagedAuditLines {
  /** Filled buffers, each holding whole lines without line breaks. */
  readonly chunks: readonly Uint8Array[];
  /** For each chunk, where each of its lines ends. */
  readonly ends: ReadonlyArray<readonly number[]>;
  /**
   * Where a writer thread put the events in the chain: each line gets its seq and hash first as it
   * is written. Lines of events written through `AuditTrail.record` carry theirs already.
   */
  chained?: ChainedEvents;
}

/** Lines (JSON objects, without line breaks) encoded into the pool's buffers. */
export function stageLines(lines: readonly string[], pool: BufferPool): StagedAuditLines {
  const chunks: Uint8Array[] = [];
  const ends: number[][] = [];
  let buffer = pool.take();
  let used = 0;
  let lineEnds: number[] = [];
  const handOn = () => {
    chunks.push(buffer.subarray(0, used));
    ends.push(lineEnds);
    buffer = pool.take();
    used = 0;
    lineEnds = [];
  };
  for (const line of lines) {
    if (line.length * 3 > buffer.length - used) {
      const bytes = Buffer.byteLength(line);
      if (bytes > buffer.length - used) {
        if (used > 0) handOn();
        if (bytes > buffer.length) {
          chunks.push(Buffer.from(line));
          ends.push([bytes]);
          continue;
        }
      }
    }
    used += buffer.write(line, used);
    lineEnds.push(used);
  }
  if (used > 0) handOn();
  pool.give(buffer);
  return { chunks, ends };
}

const LINE_BREAK = Uint8Array.of(0x0a);

/**
 * The staged lines as the audit log's bytes, each ending in a line break, with `{"seq":…,"hash":…,`
 * in place of its opening brace when a writer thread chained them; the staged buffers go back to
 * the pool.
 */
export function linesToWrite(staged: StagedAuditLines, pool: BufferPool): Uint8Array[] {
  const out: Uint8Array[] = [];
  const writer = new Utf8Chunks(pool, (chunk) => out.push(chunk));
  const { chained } = staged;
  let index = 0;
  staged.chunks.forEach((chunk, c) => {
    let start = 0;
    for (const end of staged.ends[c] ?? []) {
      if (chained === undefined) writer.writeBytes(chunk.subarray(start, end));
      else {
        const hash = chained.hashes.substring(index * 64, index * 64 + 64);
        writer.write(`{"seq":${chained.first + index},"hash":"${hash}",`);
        writer.writeBytes(chunk.subarray(start + 1, end));
      }
      writer.writeBytes(LINE_BREAK);
      start = end;
      index++;
    }
    pool.give(chunk);
  });
  writer.flush();
  return out;
}
