/**
 * How a CSV file is written: its encoding (UTF-8 with or without BOM, else Windows-1252) and its
 * delimiter (`,` `;` or tab), decided from the content (SPEC §1).
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { HeaderLookup } from '../../domain/headers.js';
import { cleanText } from '../../xlsx/index.js';
import { HEADER_SEARCH_ROWS, HeaderScan } from './header-scan.js';

export type CsvEncoding = 'utf-8' | 'windows-1252';
export type Delimiter = ',' | ';' | '\t';

/** Record ends accepted anywhere in a file: Windows, Unix and old-Mac line ends. */
export const RECORD_DELIMITERS = ['\r\n', '\n', '\r'];
const DELIMITERS: readonly Delimiter[] = [',', ';', '\t'];
const SAMPLE_BYTES = 64 * 1024;

/**
 * UTF-8 when every byte of the file decodes as UTF-8 (BOM or not), otherwise Windows-1252.
 * The whole file is checked, because Excel's "CSV" (not "CSV UTF-8") puts 1252 bytes anywhere.
 */
export async function detectEncoding(filePath: string): Promise<CsvEncoding> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of createReadStream(filePath)) decoder.decode(chunk as Buffer, { stream: true });
    decoder.decode();
    return 'utf-8';
  } catch (error) {
    if (error instanceof TypeError) return 'windows-1252';
    throw error;
  }
}

/** The first ~64 KiB of the file as text, cut after the last complete line. */
export async function readSample(filePath: string, encoding: CsvEncoding): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of createReadStream(filePath, { start: 0, end: SAMPLE_BYTES - 1 })) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const text = new TextDecoder(encoding).decode(Buffer.concat(chunks));
  if (size < SAMPLE_BYTES) return text;
  const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return cut > 0 ? text.slice(0, cut) : text;
}

/**
 * The delimiter under which one of the first lines is a header row with the most template
 * columns; when none gives a header, the one that occurs most in the first non-blank line
 * (outside quotes), so the error about the missing header names the right columns.
 */
export function detectDelimiter(sample: string, lookup: HeaderLookup): Delimiter {
  let best: { delimiter: Delimiter; columns: number } | undefined;
  for (const delimiter of DELIMITERS) {
    const records = parseSample(sample, delimiter);
    const columns = headerColumns(records, new HeaderScan(lookup));
    if (columns > (best?.columns ?? 0)) best = { delimiter, columns };
  }
  return best?.delimiter ?? mostFrequent(sample);
}

/** Template columns of the first header row among the records (0 when there is none). */
function headerColumns(records: readonly string[][], scan: HeaderScan): number {
  for (let i = 0; i < records.length; i++) {
    try {
      const found = scan.offer(i + 1, (records[i] ?? []).map(cleanText), 'sample');
      if (found !== undefined) return found.columns.length;
    } catch {
      return 1; // a header with a duplicate or without Name still tells the delimiter is right
    }
  }
  return 0;
}

function parseSample(sample: string, delimiter: Delimiter): string[][] {
  try {
    return parse(sample, {
      delimiter,
      record_delimiter: RECORD_DELIMITERS,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: false,
      to_line: HEADER_SEARCH_ROWS,
    }) as string[][];
  } catch {
    return [];
  }
}

function mostFrequent(sample: string): Delimiter {
  const line = sample.split(/\r\n|\n|\r/).find((l) => l.trim() !== '') ?? '';
  const unquoted = line.replace(/"[^"]*"/g, '');
  let best: Delimiter = ',';
  let bestCount = 0;
  for (const delimiter of DELIMITERS) {
    const count = unquoted.split(delimiter).length - 1;
    if (count > bestCount) ((best = delimiter), (bestCount = count));
  }
  return best;
}
