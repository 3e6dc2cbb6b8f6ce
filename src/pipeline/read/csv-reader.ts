/**
 * Streams a CSV file (SPEC §1) in the main thread: decoded as detected, parsed with csv-parse,
 * every value kept as text (`00123`, `+5511…`, `1e3` stay as written: PITFALLS §3.13), cleaned
 * like xlsx cells, batched with the same limits. Row numbers are line numbers.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type { RawRow } from '../../domain/columns.js';
import { buildHeaderLookup } from '../../domain/headers.js';
import { fail, UsersyncError } from '../../errors.js';
import { cleanText } from '../../xlsx/index.js';
import { RECORD_DELIMITERS, detectDelimiter, detectEncoding, readSample } from './csv-format.js';
import { HEADER_SEARCH_ROWS, HeaderScan, type FoundHeader } from './header-scan.js';
import { RowSink, emptyCells, noDataRows } from './row-sink.js';
import { openRegularFile } from './sniff.js';
import type { ReadSettings, SheetHeader, SpreadsheetReader } from './types.js';

const LINE_BREAKS = /\r\n|\n|\r/g;

/** Opens a sniffed CSV file; resolves once its header line is known. */
export async function openCsv(filePath: string, settings: ReadSettings): Promise<SpreadsheetReader> {
  const lookup = buildHeaderLookup(settings.headerAliases);
  const encoding = await detectEncoding(filePath);
  const delimiter = detectDelimiter(await readSample(filePath, encoding), lookup);
  const fh = await openRegularFile(filePath);
  // A runaway quoted field must not eat the heap; a normal line is far shorter.
  const maxRecordSize = Math.max(1024 * 1024, settings.maxCellChars * 16);
  const parser = parse({
    delimiter,
    record_delimiter: RECORD_DELIMITERS,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: false,
    max_record_size: maxRecordSize,
  });
  const decoder = new TextDecoder(encoding); // UTF-8: strips a BOM
  const decode = new Transform({
    readableObjectMode: false,
    transform(chunk: Buffer, _enc, done) {
      done(null, decoder.decode(chunk, { stream: true }));
    },
    flush(done) {
      done(null, decoder.decode());
    },
  });
  const piping = pipeline(fh.createReadStream(), decode, parser).catch(() => undefined); // errors surface through the parser
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  let line = 1;
  let closed = false;

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    parser.destroy();
    await piping;
    await fh.close().catch(() => undefined);
  };

  /** The next record with its first line number, or undefined at the end. */
  const nextRecord = async (): Promise<{ line: number; record: string[] } | undefined> => {
    const next = await records.next().catch((error: unknown) => {
      throw csvError(error, line, maxRecordSize);
    });
    if (next.done === true) return undefined;
    const record = next.value;
    const first = line;
    line += 1;
    for (const field of record)
      if (field.includes('\n') || field.includes('\r')) line += field.match(LINE_BREAKS)?.length ?? 0;
    return { line: first, record };
  };

  let found: FoundHeader | undefined;
  try {
    const scan = new HeaderScan(lookup);
    while (found === undefined) {
      const next = await nextRecord();
      if (next === undefined || next.line > HEADER_SEARCH_ROWS) throw scan.noHeaderError('the file');
      found = scan.offer(next.line, next.record.map(cleanText), `line ${next.line}`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  const header: SheetHeader = {
    format: 'csv',
    sheetName: null,
    headerRow: found.headerRow,
    columns: found.columns,
    headers: found.headers,
    warnings: [...found.warnings],
    encoding,
  };
  if (encoding === 'windows-1252')
    header.warnings.push(
      'The file is not UTF-8, so it was read as Windows-1252 (Excel’s "CSV" format in Western Europe).',
    );
  const { sourceColumns, targetColumns } = found;
  let iterated = false;

  return {
    header,
    close,
    async *batches(): AsyncGenerator<RawRow[]> {
      if (iterated) throw new Error('SpreadsheetReader.batches() can be iterated only once');
      iterated = true;
      const sink = new RowSink(settings, header.headerRow, header.warnings);
      // parseTimeoutMs counts reading time only, not the time the consumer spends on a batch.
      let busyMs = 0;
      let resumedAt = Date.now();
      try {
        for (;;) {
          const next = await nextRecord();
          if (next === undefined) break;
          const cells = emptyCells();
          for (let i = 0; i < sourceColumns.length; i++) {
            const raw = next.record[sourceColumns[i] ?? 0];
            if (raw !== undefined) cells[targetColumns[i] ?? 0] = cleanText(raw);
          }
          const added = sink.add(next.line, cells);
          if (added === 'stop') break;
          if (added === 'full') {
            busyMs += Date.now() - resumedAt;
            checkTime(busyMs, settings.parseTimeoutMs);
            yield sink.take();
            resumedAt = Date.now();
          }
        }
        const rest = sink.take();
        if (rest.length > 0) yield rest;
        if (sink.rows === 0) throw noDataRows(header);
      } finally {
        await close();
      }
    },
  };
}

function checkTime(busyMs: number, limitMs: number): void {
  if (busyMs > limitMs) {
    throw fail('FILE_PARSE_TIMEOUT', {
      message: `Reading the file took longer than import.parseTimeoutMs (${limitMs} ms), so it was stopped.`,
    });
  }
}

function csvError(error: unknown, line: number, maxRecordSize: number): UsersyncError {
  if (error instanceof UsersyncError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  // The two csv-parse errors a damaged or hand-edited file gives, said in words (relax_quotes is on).
  if (code === 'CSV_QUOTE_NOT_CLOSED') {
    return fail('FILE_PARSE_FAILED', {
      message: `The CSV file cannot be read: a quote (") opened in the record starting at line ${line} is never closed, so the rest of the file would be one cell. Check the quotes on that line, or export the file again.`,
      cause: error,
    });
  }
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return fail('FILE_PARSE_FAILED', {
      message: `The CSV file cannot be read: the record starting at line ${line} is longer than ${maxRecordSize} characters, usually because a quote (") is never closed. Check the quotes on that line, or export the file again.`,
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return fail('FILE_PARSE_FAILED', {
    message: `The CSV file cannot be read near line ${line}: ${message.slice(0, 200)}`,
    cause: error,
  });
}
