/**
 * A compact stand-in for exceljs' shared-string cache.
 *
 * exceljs' streaming reader keeps every shared string of the workbook as a JS string in one array.
 * A 1,000,000-row HR list has ~4 million distinct strings (names, usernames, e-mails, phones), and
 * as V8 strings they took most of the 1 GB the reader alone used (PITFALLS §3.9; measured). Here
 * they are stored as UTF-8 bytes in 16 MB slabs with a position table — about 15 bytes a string
 * instead of ~60 — and decoded on each look-up.
 *
 * `installCompactSharedStrings(reader)` replaces the array exceljs creates when it meets
 * `xl/sharedStrings.xml` with a proxy that answers the only two things exceljs does with it:
 * `push(value)` while parsing the part, and `sharedStrings[index]` while reading cells.
 */

const SLAB_BYTES = 16 * 1024 * 1024;

export class CompactStrings {
  private readonly slabs: Buffer[] = [];
  private used = SLAB_BYTES; // forces a first slab on the first push
  private slab = new Uint32Array(1024);
  private start = new Uint32Array(1024);
  private length = new Uint32Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(value: unknown): number {
    const text = typeof value === 'string' ? value : richTextOf(value);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.used + bytes > SLAB_BYTES) {
      this.slabs.push(Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes)));
      this.used = 0;
    }
    const slab = this.slabs.length - 1;
    (this.slabs[slab] as Buffer).write(text, this.used, 'utf8');
    this.grow();
    this.slab[this.count] = slab;
    this.start[this.count] = this.used;
    this.length[this.count] = bytes;
    this.used += bytes;
    return ++this.count;
  }

  get(index: number): string | undefined {
    if (!(index >= 0 && index < this.count)) return undefined;
    const from = this.start[index] as number;
    return (this.slabs[this.slab[index] as number] as Buffer).toString('utf8', from, from + (this.length[index] as number));
  }

  private grow(): void {
    if (this.count < this.slab.length) return;
    const bigger = (old: Uint32Array) => {
      const next = new Uint32Array(old.length * 2);
      next.set(old);
      return next;
    };
    this.slab = bigger(this.slab);
    this.start = bigger(this.start);
    this.length = bigger(this.length);
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
