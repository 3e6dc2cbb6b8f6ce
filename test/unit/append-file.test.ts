import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppendFile } from '../../src/io/append-file.js';
import { BufferPool, CHUNK_BYTES, Utf8Chunks } from '../../src/io/utf8-chunks.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'usersync-append-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Text whose characters take 1, 2, 3 and 4 bytes, so buffer ends fall inside multi-byte characters. */
const mixed = (i: number) => `row ${i}: é東京😀 ${'x'.repeat(i % 97)}`;

describe('Utf8Chunks', () => {
  it('encodes text and lines in order across buffer ends', () => {
    const chunks: Buffer[] = [];
    const out = new Utf8Chunks(new BufferPool(2), (chunk) => chunks.push(Buffer.from(chunk)));
    let expected = '';
    for (let i = 0; i < 20_000; i++) {
      if (i % 2 === 0) {
        out.writeLine(mixed(i));
        expected += `${mixed(i)}\n`;
      } else {
        out.write(mixed(i));
        expected += mixed(i);
      }
    }
    out.flush();
    expect(chunks.length).toBeGreaterThan(2);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
    expect(chunks.every((chunk) => chunk.length <= CHUNK_BYTES)).toBe(true);
  });

  it('never ends a chunk inside a character written as text', () => {
    const chunks: Buffer[] = [];
    const out = new Utf8Chunks(new BufferPool(2), (chunk) => chunks.push(Buffer.from(chunk)));
    let expected = '';
    for (let i = 0; i < 20_000; i++) {
      out.writeLine(mixed(i));
      expected += `${mixed(i)}\n`;
    }
    out.flush();
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.map((chunk) => chunk.toString('utf8')).join('')).toBe(expected);
  });

  it('hands on a text longer than a whole buffer as a chunk of its own', () => {
    const chunks: Buffer[] = [];
    const out = new Utf8Chunks(new BufferPool(2), (chunk) => chunks.push(Buffer.from(chunk)));
    const long = '東'.repeat(CHUNK_BYTES); // 3 bytes each
    out.write('before ');
    out.write(long);
    out.writeLine(' after');
    out.flush();
    expect(chunks.map((chunk) => chunk.length)).toEqual([7, CHUNK_BYTES * 3, 7]);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(`before ${long} after\n`);
  });

  it('reuses a buffer handed back to its pool, and keeps no more than asked', () => {
    const pool = new BufferPool(1);
    const first = pool.take();
    pool.give(first.subarray(0, 10));
    expect(pool.take().buffer).toBe(first.buffer);
    pool.give(Buffer.from('not a pooled buffer'));
    pool.give(Buffer.allocUnsafeSlow(CHUNK_BYTES));
    pool.give(Buffer.allocUnsafeSlow(CHUNK_BYTES));
    const kept = [pool.take(), pool.take()];
    expect(kept[0]?.buffer).not.toBe(kept[1]?.buffer);
  });
});

describe('AppendFile', () => {
  it('writes everything in order, owner-only, and counts the bytes', async () => {
    const path = join(dir, 'ordered.txt');
    const file = new AppendFile(path, { flags: 'w', mode: 0o600 });
    let expected = '';
    for (let i = 0; i < 50_000; i++) {
      file.writeLine(mixed(i));
      expected += `${mixed(i)}\n`;
      if (i % 5_000 === 0) await file.ready();
    }
    await file.close();
    expect(await readFile(path, 'utf8')).toBe(expected);
    expect(file.bytesWritten).toBe(Buffer.byteLength(expected));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(file.error).toBeUndefined();
  });

  it('writes chunks handed to it in place, between the text around them, and hands each back once written', async () => {
    const path = join(dir, 'chunks.txt');
    const file = new AppendFile(path, { flags: 'w', mode: 0o600 });
    const released: Uint8Array[] = [];
    const chunks = [Buffer.from('two\n'), Buffer.from('three\n')];
    file.writeLine('one');
    const empty = Buffer.alloc(0);
    file.writeChunks([empty], (chunk) => released.push(chunk));
    expect(released).toEqual([empty]);
    released.length = 0;
    file.writeChunks(chunks, (chunk) => released.push(chunk));
    file.writeLine('four');
    expect(released).toEqual([]);
    await file.close();
    expect(await readFile(path, 'utf8')).toBe('one\ntwo\nthree\nfour\n');
    expect(released).toEqual(chunks);
    // Closed: chunks are handed straight back, unwritten.
    const late = [Buffer.from('late\n')];
    file.writeChunks(late, (chunk) => released.push(chunk));
    expect(released.at(-1)).toBe(late[0]);
  });

  it('writes a line by the end of the turn it was appended in, without waiting for close', async () => {
    const path = join(dir, 'soon.txt');
    const file = new AppendFile(path, { flags: 'w', mode: 0o600 });
    file.writeLine('import.started');
    let text = '';
    for (let i = 0; i < 100 && text === ''; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      text = await readFile(path, 'utf8');
    }
    expect(text).toBe('import.started\n');
    await file.close();
  });

  it('keeps up with a producer that yields only now and then (one writev takes all that is queued)', async () => {
    const path = join(dir, 'burst.txt');
    const file = new AppendFile(path, { flags: 'w', mode: 0o600 });
    const released: Uint8Array[] = [];
    const burst = () => Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, 48 + (i % 10)));
    const busy = new Int32Array(new SharedArrayBuffer(4));
    for (let turn = 0; turn < 5; turn++) {
      file.writeChunks(burst(), (chunk) => released.push(chunk));
      // A thread busy between yields (an import's): the write finishes meanwhile, and its
      // callback runs at the next yield. A few yields must do for 40 chunks, not 40.
      for (let i = 0; i < 4; i++) {
        Atomics.wait(busy, 0, 0, 50);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(released).toHaveLength(40 * (turn + 1));
    }
    await file.close();
    expect(file.bytesWritten).toBe(5 * 40 * 64 * 1024);
  });

  it('appends to what a file holds with flags a', async () => {
    const path = join(dir, 'appended.txt');
    await writeFile(path, 'kept\n');
    const file = new AppendFile(path, { flags: 'a', mode: 0o600 });
    file.writeLine('added');
    await file.close();
    expect(await readFile(path, 'utf8')).toBe('kept\nadded\n');
  });

  it('keeps the first error (a folder that is not there), drops later text and still closes', async () => {
    const file = new AppendFile(join(dir, 'missing', 'file.txt'), { flags: 'w', mode: 0o600 });
    file.writeLine('lost');
    await file.close();
    expect((file.error as NodeJS.ErrnoException | undefined)?.code).toBe('ENOENT');
    file.writeLine('also dropped');
    await file.ready();
  });

  it('stops without writing what is buffered when destroyed, even while opening', async () => {
    const path = join(dir, 'destroyed.txt');
    const file = new AppendFile(path, { flags: 'w', mode: 0o600 });
    file.writeLine('never written');
    const released: Uint8Array[] = [];
    file.writeChunks([Buffer.from('nor this')], (chunk) => released.push(chunk));
    file.destroy();
    expect(released).toHaveLength(1);
    await file.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await readFile(path, 'utf8')).toBe('');
  });
});
