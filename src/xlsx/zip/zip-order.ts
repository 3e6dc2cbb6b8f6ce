/**
 * Streams a workbook's zip with the parts exceljs' streaming reader needs before a worksheet moved
 * to the front, byte for byte — for unzipper's streaming parse, which the worker uses only when it
 * cannot read the entries by range (zip-entries.ts, which serves them in the same order).
 *
 * exceljs reads the zip in file order and can parse a worksheet as it streams only once it has
 * seen `xl/sharedStrings.xml` and the workbook's relationships; a sheet that comes earlier is
 * inflated into a temp file and parsed after the whole zip was read. Excel itself writes the sheets
 * before the shared strings and styles (so does exceljs' writer), so for nearly every real file the
 * import waited for the sheet to be copied to disk and the strings parsed before its first row —
 * ~0.5 s of a 100k-row import with the database idle — and the copy on disk held the sheet's
 * inline-string cells (passwords included) until the worker removed it. Styles are moved up too:
 * a sheet parsed before them would read date cells as plain numbers.
 *
 * Only whole local entries are moved (header, data and any data descriptor are copied as they
 * are; nothing is inflated here), followed by the central directory, which unzipper's streaming
 * parse reads past without using its offsets. Anything unusual — zip64, bytes before the first
 * entry, entries that overlap or are out of the directory's order — and the file is streamed as
 * it is, as before.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { requirePackage } from '../../require-package.js';

const yauzl: typeof import('yauzl') = requirePackage('yauzl');

/** What exceljs must have parsed to stream a worksheet (workbook-reader.js), then the styles. */
export const PARTS_BEFORE_SHEETS = [
  'xl/_rels/workbook.xml.rels',
  'xl/workbook.xml',
  'xl/sharedStrings.xml',
  'xl/styles.xml',
] as const;

const CHUNK_BYTES = 64 * 1024;
const END_OF_DIRECTORY = 0x06054b50;
const DIRECTORY_ENTRY = 0x02014b50;
const LOCAL_ENTRY = 0x04034b50;
/** A local file header's fixed part, before the entry's name and extra field. */
export const LOCAL_HEADER_BYTES = 30;
/** The end-of-directory record is 22 bytes plus a comment of at most 65,535. */
const END_SEARCH_BYTES = 22 + 0xffff;

/** A byte range of the file, [start, end). */
interface Span {
  readonly start: number;
  readonly end: number;
}

/**
 * The file's bytes with PARTS_BEFORE_SHEETS first, or undefined when they already precede every
 * worksheet or the layout is not one this can move safely (then read the file as it is).
 */
export async function reorderedWorkbookStream(fh: FileHandle, size: number): Promise<Readable | undefined> {
  const spans = await plannedSpans(fh, size).catch(() => undefined);
  return spans === undefined ? undefined : Readable.from(readSpans(fh, spans), { objectMode: false });
}

async function plannedSpans(fh: FileHandle, size: number): Promise<Span[] | undefined> {
  const directoryAt = await centralDirectoryOffset(fh, size);
  if (directoryAt === undefined || (await readUInt32(fh, directoryAt)) !== DIRECTORY_ENTRY) return undefined;
  const entries = await localEntries(fh);
  if (entries.length === 0 || entries[0]?.offset !== 0) return undefined;
  const spans = new Map<string, Span>();
  for (let i = 0; i < entries.length; i++) {
    const { name, offset } = entries[i]!;
    const end = entries[i + 1]?.offset ?? directoryAt;
    // Entries must be in file order, each at least a local header long, and named once.
    if (end <= offset + LOCAL_HEADER_BYTES || spans.has(name) || (await readUInt32(fh, offset)) !== LOCAL_ENTRY)
      return undefined;
    spans.set(name, { start: offset, end });
  }
  const firstSheet = entries.findIndex((e) => /^xl\/worksheets\/sheet\d+\.xml$/.test(e.name));
  if (firstSheet < 0) return undefined;
  const late = PARTS_BEFORE_SHEETS.filter((name) => entries.findIndex((e) => e.name === name) > firstSheet);
  if (late.length === 0) return undefined;
  return [
    ...partsFirst(entries, (entry) => entry.name).map((entry) => spans.get(entry.name)!),
    { start: directoryAt, end: size },
  ];
}

/** `entries` (in file order) with PARTS_BEFORE_SHEETS first, in that order, then the rest as they were. */
export function partsFirst<T extends object>(entries: readonly T[], nameOf: (entry: T) => string): T[] {
  const first = PARTS_BEFORE_SHEETS.flatMap((name) => entries.find((entry) => nameOf(entry) === name) ?? []);
  return [...first, ...entries.filter((entry) => !first.includes(entry))];
}

/** The central directory's entries by the offset of their local header, in file order. */
async function localEntries(fh: FileHandle): Promise<Array<{ name: string; offset: number }>> {
  // Not closed: yauzl's close() would close the worker's file handle, which reads the file next.
  const zip = await yauzl.fromFdPromise(fh.fd, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
  const entries: Array<{ name: string; offset: number }> = [];
  for await (const entry of zip.eachEntry())
    entries.push({ name: entry.fileName, offset: entry.relativeOffsetOfLocalHeader });
  return entries.sort((a, b) => a.offset - b.offset);
}

/** Where the central directory starts, from the end-of-directory record; undefined for zip64. */
async function centralDirectoryOffset(fh: FileHandle, size: number): Promise<number | undefined> {
  const length = Math.min(size, END_SEARCH_BYTES);
  const tail = Buffer.alloc(length);
  await fh.read(tail, 0, length, size - length);
  for (let i = length - 22; i >= 0; i--) {
    // The record whose comment runs exactly to the end of the file.
    if (tail.readUInt32LE(i) !== END_OF_DIRECTORY || i + 22 + tail.readUInt16LE(i + 20) !== length) continue;
    const offset = tail.readUInt32LE(i + 16);
    return offset === 0xffffffff || offset >= size ? undefined : offset;
  }
  return undefined;
}

async function readUInt32(fh: FileHandle, position: number): Promise<number> {
  const bytes = Buffer.alloc(4);
  const { bytesRead } = await fh.read(bytes, 0, 4, position);
  return bytesRead === 4 ? bytes.readUInt32LE(0) : -1;
}

async function* readSpans(fh: FileHandle, spans: readonly Span[]): AsyncGenerator<Buffer> {
  for (const { start, end } of spans) {
    for (let at = start; at < end;) {
      // A fresh buffer per chunk: the zip parser keeps slices of what it is given.
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - at));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, at);
      if (bytesRead === 0)
        throw new Error(`The file ended at byte ${at} while reading it (was it changed during the import?)`);
      yield bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
      at += bytesRead;
    }
  }
}
