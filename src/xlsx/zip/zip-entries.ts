/**
 * The workbook's zip entries for exceljs' streaming reader, read by random access instead of by
 * unzipper's streaming `Parse`: the parts the reader needs before a worksheet first
 * (PARTS_BEFORE_SHEETS), then the rest in file order, each inflated straight from its byte range.
 *
 * Why: unzipper's Parse pushes the whole file through its PullStream, which copies and re-slices
 * every 16 KB chunk, and inflates in 16 KB pieces that exceljs then takes one by one through an
 * async iterator. Inflating the bench's 100k-row workbook (49.5 MB of XML) cost a thread ~470 ms
 * of CPU that way, and ~90 ms from the entries' byte ranges in 64 KB pieces; a 100k-row first
 * load −0.33 s of wall time and −0.6 s of CPU (means of 8 alternating pairs). The directory is
 * read anyway (workbook-sheets.ts), and entries nobody reads (themes, docProps) are never inflated.
 *
 * exceljs does `stream.pipe(unzip.Parse({forceStream: true}))` and iterates the result's entries
 * (`entry.path`, then it reads, pipes or `autodrain()`s each). {@link entryParse} makes such a
 * Parse: its writable side ignores what exceljs pipes in (give exceljs an empty stream), its
 * readable side yields the entries. Anything the directory cannot describe safely — an encrypted
 * or oddly compressed entry, entries that overlap — returns undefined, and the caller streams the
 * file through unzipper as before.
 */
import type { FileHandle } from 'node:fs/promises';
import { Duplex, PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { requirePackage } from '../../require-package.js';
import { LOCAL_HEADER_BYTES, partsFirst } from './zip-order.js';

const yauzl: typeof import('yauzl') = requirePackage('yauzl');

/**
 * Bytes read from the file, and inflated, at a time. Not 16 KB (see above), nor 256 KB: each piece
 * becomes one string in the sheet parser, and V8 puts strings of 128 KB and more in its
 * large-object space, which only full collections free — the reader's GC time tripled.
 */
const CHUNK_BYTES = 64 * 1024;

/** One entry as exceljs' reader uses it: a stream of the entry's bytes, named by `path`. */
export interface ZipEntryStream extends Readable {
  readonly path: string;
  readonly type: 'File';
  autodrain(): void;
}

/** A stand-in for `unzipper.Parse({forceStream: true})`; see the module comment. */
export type EntryParse = () => Duplex;

/**
 * The entries of the zip open on `fh`, in the order exceljs should see them, or undefined when
 * this reader should not be used for the file (the caller falls back on unzipper). `onError`
 * receives any error of an entry's data (a damaged file), like unzipper-end-fix.ts's listener.
 */
export async function entryParse(fh: FileHandle, onError: (error: Error) => void): Promise<EntryParse | undefined> {
  let zip: ZipFile;
  try {
    // Not closed (autoClose false, and no close() below): closing would close the worker's own handle.
    zip = await yauzl.fromFdPromise(fh.fd, {
      lazyEntries: true,
      autoClose: false,
      validateEntrySizes: true,
      strictFileNames: false,
    });
  } catch {
    return undefined;
  }
  const entries: Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.isEncrypted() || (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)) return undefined;
      entries.push(entry);
    }
  } catch {
    return undefined;
  }
  entries.sort((a, b) => a.relativeOffsetOfLocalHeader - b.relativeOffsetOfLocalHeader);
  for (let i = 1; i < entries.length; i++) {
    const [before, entry] = [entries[i - 1]!, entries[i]!];
    if (
      entry.relativeOffsetOfLocalHeader <
      before.relativeOffsetOfLocalHeader + LOCAL_HEADER_BYTES + before.compressedSize
    )
      return undefined;
  }
  const ordered = partsFirst(entries, (entry) => entry.fileName);
  return () => {
    const parse = new Duplex({
      objectMode: true,
      // exceljs pipes the workbook's bytes in: they are read here by range instead.
      write: (_chunk, _encoding, done) => done(),
      read: () => undefined,
    });
    for (const entry of ordered) parse.push(entryStream(zip, fh, entry, onError));
    parse.push(null);
    return parse;
  };
}

/** An entry's bytes, read and inflated only once someone reads them (never for an autodrained one). */
function entryStream(zip: ZipFile, fh: FileHandle, entry: Entry, onError: (error: Error) => void): ZipEntryStream {
  return new EntryStream(entry.fileName, (out) => {
    const fail = (cause: Error): void => {
      const error = damagedZip(entry.fileName, cause);
      onError(error);
      out.destroy(error);
    };
    zip.readLocalFileHeader(entry, { minimal: true }, (error, header) => {
      if (error) return fail(error);
      if (entry.compressedSize === 0) return void out.end();
      const raw = fh.createReadStream({
        start: header.fileDataStart,
        end: header.fileDataStart + entry.compressedSize - 1,
        highWaterMark: CHUNK_BYTES,
        autoClose: false,
      });
      raw.on('error', fail);
      const counted = new ByteCount(entry.uncompressedSize);
      counted.on('error', fail);
      if (entry.compressionMethod === 8) {
        const inflate = createInflateRaw({ chunkSize: CHUNK_BYTES });
        inflate.on('error', fail);
        raw.pipe(inflate).pipe(counted).pipe(out);
      } else raw.pipe(counted).pipe(out);
    });
  });
}

/** A PassThrough that starts its source the first time it is read from (read(), 'data', pipe). */
class EntryStream extends PassThrough implements ZipEntryStream {
  readonly type = 'File';
  private started = false;

  constructor(
    readonly path: string,
    private readonly source: (out: EntryStream) => void,
  ) {
    super({ highWaterMark: CHUNK_BYTES });
  }

  override _read(size: number): void {
    if (!this.started) {
      this.started = true;
      this.source(this);
    }
    super._read(size);
  }

  /** exceljs is done with the entry: one never read is never inflated. */
  autodrain(): void {
    if (!this.started) this.destroy();
  }
}

/**
 * An entry's data that cannot be read as the directory describes it: its local header or its size
 * is wrong. `code` Z_DATA_ERROR, as zlib's own inflate errors have, so classifyParseError reports
 * every one of them alike (FILE_CORRUPT). An error that has a code already passes as it is: zlib's
 * own, and the file system's — a disk or descriptor failure (EIO, EMFILE) is this machine's fault,
 * not the file's, and classifyParseError must see its code to keep the file out of error/.
 */
function damagedZip(path: string, cause: Error): Error {
  if (typeof (cause as { code?: unknown }).code === 'string') return cause;
  return Object.assign(new Error(`${path}: ${cause.message}`, { cause }), { code: 'Z_DATA_ERROR' });
}

/** Passes bytes through, failing when they are not exactly as many as the directory says. */
class ByteCount extends Transform {
  private seen = 0;

  constructor(private readonly expected: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected)
      return done(new Error(`too many bytes in the entry: more than the ${this.expected} the zip's directory states`));
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    done(
      this.seen === this.expected
        ? null
        : new Error(`the entry ended after ${this.seen} of the ${this.expected} bytes the zip's directory states`),
    );
  }
}
