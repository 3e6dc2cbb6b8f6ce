/**
 * The usernames a file has already used, with the row that used each first: what the duplicate
 * check asks. A million-row file keeps a million of them until its last row, so they are kept
 * out of the JavaScript heap: a Map of strings held ~65 MB there at 1M rows, every major GC
 * walked it, and V8 sized the heap off it (several hundred MB of RSS). Here the same set is a
 * few typed arrays (~26 MB at 1M ten-character usernames) that the GC never walks.
 *
 * Layout: each username's UTF-16 code units, one byte each when below 0xFF, else 0xFF and two
 * bytes (an encoding where equal bytes mean equal strings), appended to one byte arena; an
 * open-addressing table (linear probing, at most half full) maps a hash to the entry.
 */

/** What checkRow needs of the register of usernames already seen (a Map<string, number> fits). */
export interface SeenUsernames {
  get(username: string): number | undefined;
  set(username: string, row: number): unknown;
}

const EMPTY = 0; // table slots hold entry index + 1
const ESCAPE = 0xff;

export class UsernameIndex implements SeenUsernames {
  private bytes = new Uint8Array(1 << 16);
  private used = 0; // bytes of the arena in use
  /** Entry i's bytes are bytes[starts[i] .. starts[i + 1]). */
  private starts = new Uint32Array(1 << 12);
  /** Row numbers (a sheet has at most 1,048,576 rows; a CSV is far below 2^32 lines too). */
  private rows = new Uint32Array(1 << 12);
  private table = new Uint32Array(1 << 13);
  private count = 0;
  /** The last username hashed, and its hash (see `hash`). */
  private lastHashed: string | undefined;
  private lastHash = 0;

  get size(): number {
    return this.count;
  }

  get(username: string): number | undefined {
    const slot = this.find(username);
    const held = this.table[slot] as number;
    return held === EMPTY ? undefined : this.rows[held - 1];
  }

  /** Records the row that first used `username`; a username already held keeps its first row. */
  set(username: string, row: number): this {
    // The empty slot where the probe for `username` ended is where it goes (found again only in a grown table).
    let slot = this.find(username);
    if (this.table[slot] !== EMPTY) return this;
    if ((this.count + 1) * 2 > this.table.length) {
      this.growTable();
      slot = this.find(username);
    }
    if (this.count + 2 > this.starts.length) this.growEntries();
    const entry = this.count++;
    this.starts[entry] = this.used;
    this.append(username);
    this.starts[entry + 1] = this.used;
    this.rows[entry] = row;
    this.table[slot] = entry + 1;
    return this;
  }

  /** The slot holding `username`, or the empty slot where its probe ends. */
  private find(username: string): number {
    const mask = this.table.length - 1;
    for (let slot = this.hash(username) & mask; ; slot = (slot + 1) & mask) {
      const held = this.table[slot] as number;
      if (held === EMPTY || this.equals(held - 1, username)) return slot;
    }
  }

  /** hashOf, remembered for the last username: checkRow asks get() and then set() for each row. */
  private hash(username: string): number {
    if (username !== this.lastHashed) {
      this.lastHashed = username;
      this.lastHash = hashOf(username);
    }
    return this.lastHash;
  }

  private place(entry: number, hash: number): void {
    const mask = this.table.length - 1;
    let slot = hash & mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.table[slot] = entry + 1;
  }

  private append(text: string): void {
    if (this.used + text.length * 3 > this.bytes.length) {
      const bigger = new Uint8Array(Math.max(this.bytes.length * 2, this.used + text.length * 3));
      bigger.set(this.bytes.subarray(0, this.used));
      this.bytes = bigger;
    }
    const bytes = this.bytes;
    let at = this.used;
    for (let i = 0; i < text.length; i++) {
      const unit = text.charCodeAt(i);
      if (unit < ESCAPE) bytes[at++] = unit;
      else {
        bytes[at++] = ESCAPE;
        bytes[at++] = unit >> 8;
        bytes[at++] = unit & 0xff;
      }
    }
    this.used = at;
  }

  private equals(entry: number, text: string): boolean {
    const bytes = this.bytes;
    let at = this.starts[entry] as number;
    const end = this.starts[entry + 1] as number;
    for (let i = 0; i < text.length; i++) {
      if (at >= end) return false;
      const unit = text.charCodeAt(i);
      if (unit < ESCAPE) {
        if (bytes[at++] !== unit) return false;
      } else if (bytes[at] !== ESCAPE || bytes[at + 1] !== unit >> 8 || bytes[at + 2] !== (unit & 0xff)) return false;
      else at += 3;
    }
    return at === end;
  }

  /** Doubles the table; entries are placed again by the hash of their stored bytes. */
  private growTable(): void {
    this.table = new Uint32Array(this.table.length * 2);
    for (let entry = 0; entry < this.count; entry++) this.place(entry, this.storedHash(entry));
  }

  /** hashOf() of entry's username, read back from its bytes (no hash is stored: 4 bytes saved each). */
  private storedHash(entry: number): number {
    const bytes = this.bytes;
    const end = this.starts[entry + 1] as number;
    let hash = FNV_OFFSET;
    for (let at = this.starts[entry] as number; at < end;) {
      const byte = bytes[at++] as number;
      const unit = byte === ESCAPE ? ((bytes[at++] as number) << 8) | (bytes[at++] as number) : byte;
      hash = Math.imul(hash ^ unit, FNV_PRIME);
    }
    return finish(hash);
  }

  private growEntries(): void {
    const length = this.starts.length * 2;
    const starts = new Uint32Array(length);
    starts.set(this.starts);
    this.starts = starts;
    const rows = new Uint32Array(length);
    rows.set(this.rows);
    this.rows = rows;
  }
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over UTF-16 code units, with a final avalanche so linear probing spreads well. */
function hashOf(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
  return finish(hash);
}

function finish(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
