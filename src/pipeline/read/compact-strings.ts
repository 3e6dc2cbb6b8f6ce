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
 * `installCompactSharedStrings(reader)` replaces the array exceljs creates when it meets
 * `xl/sharedStrings.xml` with a proxy that answers the only two things exceljs does with it:
 * `push(value)` while parsing the part, and `sharedStrings[index]` while reading cells.
 */

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

export class CompactStrings {
  private readonly slabs: string[] = [];
  /** The index of each slab's first string, ascending (slabs[k] holds strings firsts[k]…). */
  private readonly firsts: number[] = [];
  /** Strings pushed since the last slab was joined, and their characters. */
  private pending: string[] = [];
  private pendingChars = 0;
  /** Where string i starts in its slab; it ends where string i+1 starts (or at the slab's end). */
  private start = new Uint32Array(SLAB_STRINGS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(value: unknown): number {
    const text = typeof value === 'string' ? value : richTextOf(value);
    this.pending.push(text);
    this.pendingChars += text.length;
    this.count++;
    if (this.pending.length === SLAB_STRINGS || this.pendingChars >= SLAB_CHARS) this.seal();
    return this.count;
  }

  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.count)) return undefined;
    const sealed = this.count - this.pending.length;
    if (index >= sealed) return this.pending[index - sealed];
    const slab = this.slabOf(index);
    const text = this.slabs[slab] as string;
    const next = index + 1;
    const end = next === (this.firsts[slab + 1] ?? sealed) ? text.length : (this.start[next] as number);
    return text.substring(this.start[index] as number, end);
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

  /** Joins the pending strings into one slab and records where each begins. */
  private seal(): void {
    const first = this.count - this.pending.length;
    if (this.start.length < first + this.pending.length) {
      const bigger = new Uint32Array(Math.max(this.start.length * 2, first + this.pending.length));
      bigger.set(this.start);
      this.start = bigger;
    }
    let offset = 0;
    this.pending.forEach((text, i) => {
      this.start[first + i] = offset;
      offset += text.length;
    });
    // join() makes one flat string: the pending strings (often slices of saxes' input) are freed.
    this.slabs.push(this.pending.join(''));
    this.firsts.push(first);
    this.pending = [];
    this.pendingChars = 0;
  }
}

/** A shared rich-text string's runs, joined (what cellToText would make of it anyway). */
function richTextOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  const runs = (value as { richText?: Array<{ text?: unknown }> }).richText;
  return Array.isArray(runs) ? runs.map((run) => (typeof run.text === 'string' ? run.text : '')).join('') : String(value);
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
export function installCompactSharedStrings(reader: object): void {
  let view: unknown[] | undefined;
  Object.defineProperty(reader, 'sharedStrings', {
    configurable: true,
    get: () => view,
    set: (value: unknown) => {
      if (Array.isArray(value) && value.length === 0) {
        view = arrayView(new CompactStrings());
      } else {
        view = value as unknown[] | undefined;
      }
    },
  });
}
