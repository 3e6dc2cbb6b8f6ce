/**
 * A compact stand-in for exceljs' shared-string cache.
 *
 * exceljs' streaming reader keeps every shared string of the workbook as a JS string in one array.
 * A 1,000,000-row HR list has ~4 million distinct strings (names, usernames, e-mails, phones), and
 * as separate V8 strings (each with its header, plus the array slot) they took most of the 1 GB
 * the reader alone used (PITFALLS §3.9; measured). Here they are joined into slabs of ~64k strings,
 * one flat V8 string each (one byte a character while the slab is Latin-1), with a position table:
 * 4 bytes a string on top of its characters. A look-up is a `substring` of its slab — V8
 * answers it without decoding anything (a slice of the slab, or a copy of at most 12 characters).
 * The first version kept UTF-8 bytes and decoded them on each look-up: with it the reader needed
 * ~1.8 × the time of exceljs alone on 100k rows, ~1.3 × without it (npm run bench's floor).
 *
 * Past that, even the slabs are too much for a million rows (~80 MB of the reader's heap), so
 * sealed slabs can be spilled to a file and read back when a cell needs them (`spillTo`).
 *
 * `installCompactSharedStrings(reader)` replaces the array exceljs creates when it meets
 * `xl/sharedStrings.xml` with a proxy that answers the only two things exceljs does with it:
 * `push(value)` while parsing the part, and `sharedStrings[index]` while reading cells.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, openSync, readSync, writeFileSync } from 'node:fs';

/**
 * Shared-strings parts larger than this (uncompressed XML) are kept compact. Smaller ones stay in
 * exceljs' plain array: a look-up through the proxy costs ~0.3 µs more (a string key per cell),
 * a few tenths of a second per 100,000 rows with their garbage, while the array's extra memory
 * there is ~30 MB.
 * 24 MB of XML is roughly 750,000 strings: a list of ~190,000 users like the bench's.
 */
export const COMPACT_SHARED_STRINGS_ABOVE_BYTES = 24 * 1024 * 1024;

/** A slab is joined at this many strings or characters, whichever comes first: few slabs, and
 * far below V8's longest string (~2^29 characters) even when cells hold 32,767 characters each. */
const SLAB_STRINGS = 65_536;
const SLAB_CHARS = 16 * 1024 * 1024;

/** A stream cipher: a record is as long as its plain text, so offsets stay simple. */
const SPILL_CIPHER = 'aes-256-ctr';

/** Slabs kept in memory when they are spilled to a file: at most this many characters. */
const SPILL_CACHE_CHARS = 8 * 1024 * 1024;

/** One sealed slab: its strings joined, and where each begins in it. */
interface Slab {
  text: string;
  starts: Uint32Array;
}

/** Where a spilled slab lies in the spill file, and the counter block it was encrypted from. */
interface SpilledSlab {
  offset: number;
  count: number;
  textBytes: number;
  oneByte: boolean;
  iv: Buffer;
}

export interface CompactStringsOptions {
  /**
   * A file to move sealed slabs to (created; the caller removes it). In memory then are only the
   * slabs read back lately (~8 M characters): a 1M-row list's strings took ~80 MB of the reader's
   * heap. Look-ups mostly move forward through the strings (files list them in the order cells
   * first use them), so each slab is read back about once; a file whose cells jump around at
   * random re-reads slabs and is slower, never wrong. The file is encrypted (AES-256-CTR, a key
   * held only in memory): the strings may be passwords, and a crash leaves temp files behind.
   */
  spillTo?: string;
  /** Strings per slab, and characters of spilled slabs kept in memory (tests make them small). */
  slabStrings?: number;
  spillCacheChars?: number;
}

export class CompactStrings {
  private readonly slabStrings: number;
  private readonly spillCacheChars: number;
  private readonly slabs: Slab[] = [];
  /** The index of each slab's first string, ascending (slab k holds strings firsts[k]…). */
  private readonly firsts: number[] = [];
  /** Strings pushed since the last slab was joined, and their characters. */
  private pending: string[] = [];
  private pendingChars = 0;
  private count = 0;
  private readonly spill:
    | { path: string; key: Buffer; end: number; slabs: SpilledSlab[]; cache: Map<number, Slab>; cachedChars: number }
    | undefined;
  /** The slab the last look-up used: consecutive cells of a row mostly share one. */
  private last: { index: number; slab: Slab } | undefined;

  constructor(options: CompactStringsOptions = {}) {
    this.slabStrings = options.slabStrings ?? SLAB_STRINGS;
    this.spillCacheChars = options.spillCacheChars ?? SPILL_CACHE_CHARS;
    if (options.spillTo !== undefined) {
      writeFileSync(options.spillTo, '', { mode: 0o600 });
      // Cells can hold passwords, and a crash leaves the temp directory behind: what reaches the
      // disk is encrypted with a key that only ever exists in this worker's memory.
      this.spill = { path: options.spillTo, key: randomBytes(32), end: 0, slabs: [], cache: new Map(), cachedChars: 0 };
    }
  }

  get size(): number {
    return this.count;
  }

  push(value: unknown): number {
    const text = typeof value === 'string' ? value : richTextOf(value);
    this.pending.push(text);
    this.pendingChars += text.length;
    this.count++;
    if (this.pending.length === this.slabStrings || this.pendingChars >= SLAB_CHARS) this.seal();
    return this.count;
  }

  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.count)) return undefined;
    const sealed = this.count - this.pending.length;
    if (index >= sealed) return this.pending[index - sealed];
    const k = this.slabOf(index);
    const slab = this.slab(k);
    const i = index - (this.firsts[k] as number);
    const end = i + 1 < slab.starts.length ? (slab.starts[i + 1] as number) : slab.text.length;
    return slab.text.substring(slab.starts[i] as number, end);
  }

  /** The slab holding sealed string `index`: the last whose first string is ≤ index. */
  private slabOf(index: number): number {
    let low = 0;
    let high = this.firsts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.firsts[middle] as number) <= index) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  private slab(k: number): Slab {
    if (this.spill === undefined) return this.slabs[k] as Slab;
    if (this.last?.index === k) return this.last.slab;
    let slab = this.spill.cache.get(k);
    if (slab === undefined) slab = this.readBack(k);
    this.last = { index: k, slab };
    return slab;
  }

  /** Joins the pending strings into one slab and records where each begins. */
  private seal(): void {
    const starts = new Uint32Array(this.pending.length);
    let offset = 0;
    this.pending.forEach((text, i) => {
      starts[i] = offset;
      offset += text.length;
    });
    // join() makes one flat string: the pending strings (often slices of saxes' input) are freed.
    const slab = { text: this.pending.join(''), starts };
    this.firsts.push(this.count - this.pending.length);
    if (this.spill === undefined) this.slabs.push(slab);
    else this.writeOut(slab);
    this.pending = [];
    this.pendingChars = 0;
  }

  private writeOut(slab: Slab): void {
    const spill = this.spill!;
    // One byte a character when the slab allows it (the common case), as V8 holds it then too.
    const oneByte = !/[^\u0000-\u00ff]/.test(slab.text);
    const text = Buffer.from(slab.text, oneByte ? 'latin1' : 'utf16le');
    const starts = new Uint8Array(slab.starts.buffer, slab.starts.byteOffset, slab.starts.byteLength);
    const iv = randomBytes(16);
    const cipher = createCipheriv(SPILL_CIPHER, spill.key, iv);
    const record = Buffer.concat([cipher.update(starts), cipher.update(text), cipher.final()]);
    // Opened for each write and read, never held: a worker that is terminated cannot leak a
    // descriptor (worker threads share the process's), so removing the file frees its space.
    appendFileSync(spill.path, record);
    spill.slabs.push({ offset: spill.end, count: slab.starts.length, textBytes: text.byteLength, oneByte, iv });
    spill.end += record.byteLength;
  }

  private readBack(k: number): Slab {
    const spill = this.spill!;
    const where = spill.slabs[k] as SpilledSlab;
    const startsBytes = where.count * Uint32Array.BYTES_PER_ELEMENT;
    const record = Buffer.allocUnsafe(startsBytes + where.textBytes);
    const fd = openSync(spill.path, 'r');
    try {
      readAll(fd, record, where.offset);
    } finally {
      closeSync(fd);
    }
    const decipher = createDecipheriv(SPILL_CIPHER, spill.key, where.iv);
    const plain = Buffer.concat([decipher.update(record), decipher.final()]);
    const starts = new Uint32Array(where.count);
    new Uint8Array(starts.buffer).set(plain.subarray(0, startsBytes)); // copied: plain may be unaligned
    const slab = { text: plain.toString(where.oneByte ? 'latin1' : 'utf16le', startsBytes), starts };
    // First in, first out: a slab still in use is simply read again (once), which is cheap.
    for (const [old, cached] of spill.cache) {
      if (spill.cachedChars + slab.text.length <= this.spillCacheChars) break;
      spill.cache.delete(old);
      spill.cachedChars -= cached.text.length;
    }
    spill.cache.set(k, slab);
    spill.cachedChars += slab.text.length;
    return slab;
  }
}

function readAll(fd: number, into: Uint8Array, position: number): void {
  for (let done = 0; done < into.byteLength;) {
    const read = readSync(fd, into, done, into.byteLength - done, position + done);
    if (read === 0) throw new Error('The shared-strings spill file ended early');
    done += read;
  }
}

/** A shared rich-text string's runs, joined (what cellToText would make of it anyway). */
function richTextOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  const runs = (value as { richText?: Array<{ text?: unknown }> }).richText;
  return Array.isArray(runs)
    ? runs.map((run) => (typeof run.text === 'string' ? run.text : '')).join('')
    : String(value);
}

/** An array-like view of a CompactStrings: numeric index and push, nothing else. */
function arrayView(store: CompactStrings): unknown[] {
  return new Proxy([] as unknown[], {
    get(_target, key) {
      if (typeof key === 'string') {
        const index = Number(key);
        if (Number.isInteger(index)) return store.get(index);
        if (key === 'push') return (value: unknown) => store.push(value);
        if (key === 'length') return store.size;
      }
      return undefined;
    },
  });
}

/** Makes `reader.sharedStrings` compact: exceljs assigns `[]` and pushes into whatever it holds. */
export function installCompactSharedStrings(reader: object, options: CompactStringsOptions = {}): void {
  let view: unknown[] | undefined;
  Object.defineProperty(reader, 'sharedStrings', {
    configurable: true,
    get: () => view,
    set: (value: unknown) => {
      if (Array.isArray(value) && value.length === 0) {
        view = arrayView(new CompactStrings(options));
      } else {
        view = value as unknown[] | undefined;
      }
    },
  });
}
