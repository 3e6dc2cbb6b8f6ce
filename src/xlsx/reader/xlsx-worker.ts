/**
 * Worker thread that reads one .xlsx/.xlsm (SPEC §1): zip-entries.ts for the zip (unzipper when
 * the directory cannot be used), exceljs' streaming reader for the shared strings and the styles,
 * sheet-rows.ts for each sheet's cells. Runs in its
 * own thread with a heap limit, so an exceljs crash, a runaway file or an out-of-memory rejects
 * this file only (PITFALLS §3.5, §3.9). Its temp directory (TMPDIR, set by the main thread) is
 * removed by the main thread however this worker ends (PITFALLS §3.8).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
// First: it replaces exceljs' XML reader before exceljs loads (see the module for why).
import '../patches/exceljs-sax-fix.js';
import type ExcelJS from 'exceljs';
import { UsersyncError, fail } from '../../errors.js';
import { requireFromExceljs } from '../exceljs-require.js';
import type { RawRow } from '../../domain/columns.js';
import { buildHeaderLookup } from '../../domain/headers.js';
import { REPORT_ERROR_COLUMN, REPORT_SHEETS, isReportWorkbook } from '../../domain/workbook-layout.js';
import { CELL_ERRORS, cellToText } from '../sheet/cell-to-text.js';
import { COMPACT_SHARED_STRINGS_ABOVE_BYTES, installCompactSharedStrings } from '../sheet/compact-strings.js';
import { HEADER_SEARCH_ROWS, HeaderScan, type FoundHeader } from '../../pipeline/read/header-scan.js';
import { RowSink, emptyCells } from '../../pipeline/read/row-sink.js';
import { scanSharedStringsOf } from '../sheet/shared-strings.js';
import { NO_SHARED_STRINGS, sheetRows, type SheetRow, type WorkbookParts } from '../sheet/sheet-rows.js';
import { openRegularFile } from '../../pipeline/read/sniff.js';
import { readWorkbookInfo, type SheetInfo, type WorkbookInfo } from '../sheet/workbook-sheets.js';
import {
  MAX_BATCHES_AHEAD,
  encodeRows,
  type MainMessage,
  type WorkerInput,
  type WorkerMessage,
} from './worker-protocol.js';
import { classifyParseError, isSheetsRace, otherSheetWarnings } from '../xlsx-errors.js';
import { fixUnzipperEnd, serveZipEntriesFrom } from '../patches/unzipper-end-fix.js';
import { loadSlimUnzipper } from '../patches/unzipper-slim.js';
import { entryParse } from '../zip/zip-entries.js';
import { reorderedWorkbookStream } from '../zip/zip-order.js';

/**
 * exceljs' streaming WorkbookReader alone: `import 'exceljs'` also loads its in-memory workbook,
 * CSV and writer modules (jszip, fast-csv, …), ~50 ms more before the first row.
 */
loadSlimUnzipper(); // before exceljs requires it: only unzipper's Parse (unzipper-slim.ts)
const WorkbookReader = requireFromExceljs(
  'exceljs/lib/stream/xlsx/workbook-reader.js',
) as typeof ExcelJS.stream.xlsx.WorkbookReader;

// A zip stream error means damaged zip data; exceljs may never see it (unzipper-end-fix.ts, fix 1).
fixUnzipperEnd((error) => postFail(classifyParseError(error)));

/** exceljs' WorksheetReader: only its part's XML stream and its workbook are used (sheet-rows.ts). */
interface Worksheet {
  readonly iterator: AsyncIterable<Buffer | string>;
  readonly workbook: WorkbookParts;
  readonly name?: string;
  readonly state?: string;
}

const input = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error('xlsx-worker must run in a worker thread');
const post = (message: WorkerMessage): void => port.postMessage(message);

let failed = false;
/** Reports the file's failure, once; the main thread then terminates this worker. */
function postFail(failure: UsersyncError): void {
  if (failed) return;
  failed = true;
  post({ type: 'fail', code: failure.code, message: failure.message, details: failure.details });
}

let credits = MAX_BATCHES_AHEAD;
let wakeUp: (() => void) | undefined;
port.on('message', (message: MainMessage) => {
  // Exiting here, between tasks, never interrupts a half-made zlib stream (xlsx-reader.ts, stop()).
  if (message.type === 'stop') process.exit(0);
  if (message.type !== 'credit') return;
  credits++;
  wakeUp?.();
});

/** Sends a batch, first waiting for credit: this is the backpressure that keeps memory flat. */
async function sendRows(rows: RawRow[]): Promise<void> {
  while (credits <= 0) await new Promise<void>((resolve) => (wakeUp = resolve));
  wakeUp = undefined;
  credits--;
  post({ type: 'rows', json: encodeRows(rows) });
}

let headerSent = false;

async function readWorkbook(workbook: WorkbookInfo): Promise<void> {
  const { sheets } = workbook;
  const lookup = buildHeaderLookup(input.settings.headerAliases);
  // A usersync report dropped back in: only its Failed rows sheet is for importing (its Rows
  // sheet has a Username column too), and its Error column is expected.
  const report = isReportWorkbook(sheets, workbook.keywords);
  const scan = new HeaderScan(lookup, report ? [REPORT_ERROR_COLUMN] : []);
  const fh = await openRegularFile(input.filePath);
  // Entries read by range (zip-entries.ts); failing that, the file streamed through unzipper with
  // shared strings, styles and relationships moved first, so the sheet is parsed as it streams (zip-order.ts).
  const entries = await entryParse(fh, (error) => postFail(classifyParseError(error)));
  serveZipEntriesFrom(entries);
  const stream =
    entries !== undefined
      ? Readable.from([])
      : ((await reorderedWorkbookStream(fh, (await fh.stat()).size)) ?? fh.createReadStream());
  // exceljs pipes the stream without an error listener; report read errors ourselves (PITFALLS §3.5).
  stream.on('error', (cause: Error) => {
    postFail(fail('FILE_PARSE_FAILED', { message: `The file could not be read: ${cause.message}` }));
  });
  const reader = new WorkbookReader(stream, {
    sharedStrings: 'cache',
    hyperlinks: 'ignore',
    styles: 'cache',
    worksheets: 'emit',
    entries: 'emit',
  });
  seedWorkbookModel(reader, workbook);
  scanSharedStringsOf(reader);
  // Below the threshold exceljs' own array is faster (no proxy, no slicing) and small enough.
  // Past it, the strings live in a file in this worker's temp directory (removed however it ends).
  if (workbook.sharedStringsBytes > COMPACT_SHARED_STRINGS_ABOVE_BYTES)
    installCompactSharedStrings(reader, { spillTo: join(tmpdir(), 'shared-strings.bin') });
  if (!workbook.hasSharedStrings) (reader as unknown as { sharedStrings: unknown }).sharedStrings = NO_SHARED_STRINGS;
  let sheetNo = '';
  // The 'entry' event comes right before its worksheet is yielded: it tells which part it is.
  (reader as unknown as NodeJS.EventEmitter).on('entry', (entry: { type: string; id?: string }) => {
    if (entry.type === 'worksheet') sheetNo = entry.id ?? '';
  });
  const seen: string[] = [];
  for await (const ws of reader as unknown as AsyncIterable<Worksheet>) {
    const info = sheets.find((s) => s.path === `xl/worksheets/sheet${sheetNo}.xml`);
    const name = info?.name ?? ws.name ?? `Sheet${sheetNo}`;
    const hidden = info?.hidden ?? (ws.state === 'hidden' || ws.state === 'veryHidden');
    seen.push(name);
    if (hidden || (report && name !== REPORT_SHEETS.failed)) {
      for await (const _rows of sheetRows(ws.iterator, ws.workbook)); // each sheet must be consumed to move on
      continue;
    }
    if (
      await readSheet(
        ws,
        name,
        scan,
        sheets.length > 0 ? sheets : seen.map((n) => ({ name: n, hidden: false })),
        report,
      )
    )
      return;
  }
  if (report && !seen.includes(REPORT_SHEETS.failed)) throw fail('FILE_REPORT_NO_FAILED_ROWS');
  if (missingSharedStrings > 0) {
    // Without xl/sharedStrings.xml every text cell is blank: "no header" would mislead.
    throw fail('FILE_CORRUPT', {
      message:
        'The workbook is damaged: its cells refer to shared texts (xl/sharedStrings.xml) that the file does not contain, so no header row can be read. Copy or export it again.',
    });
  }
  throw scan.noHeaderError(seen.length === 0 ? 'the workbook (it has no worksheets)' : 'any worksheet');
}

/** Reads one sheet; true when it had the header row (and so was read to the end). */
async function readSheet(
  ws: Worksheet,
  name: string,
  scan: HeaderScan,
  sheets: ReadonlyArray<Pick<SheetInfo, 'name' | 'hidden'>>,
  report: boolean,
): Promise<boolean> {
  let header: FoundHeader | undefined;
  let sink: RowSink | undefined;
  const warnings: string[] = [];
  reading: for await (const rows of sheetRows(ws.iterator, ws.workbook))
    for (const row of rows) {
      const rowNumber = row.number;
      // Rows without an `r` attribute (exceljs#2961, #2075) come through as NaN.
      if (!Number.isSafeInteger(rowNumber) || rowNumber < 1) throw unsupportedLayout();
      if (header === undefined) {
        if (rowNumber > HEADER_SEARCH_ROWS) continue; // drain the rest of a sheet without a header
        header = scan.offer(rowNumber, rowTexts(row), `row ${rowNumber} of sheet "${name}"`);
        if (header !== undefined) {
          sink = new RowSink(input.settings, rowNumber, warnings);
          warnings.push(...header.warnings, ...otherSheetWarnings(sheets, name, report));
          const { headerRow, columns, headers } = header;
          post({ type: 'header', header: { sheetName: name, headerRow, columns, headers, warnings: [...warnings] } });
          warnings.length = 0;
          headerSent = true;
        }
        continue;
      }
      const cells = emptyCells();
      const { sourceColumns, targetColumns } = header;
      for (let i = 0; i < sourceColumns.length; i++) {
        const cell = row.cells[sourceColumns[i] ?? 0];
        if (cell !== undefined) cells[targetColumns[i] ?? 0] = cellToText(cell);
      }
      const added = sink!.add(rowNumber, cells);
      if (added === 'full') await sendRows(sink!.take());
      else if (added === 'stop') break reading;
    }
  if (header === undefined) return false;
  const rest = sink!.take();
  if (rest.length > 0) await sendRows(rest);
  for (const text of warnings) post({ type: 'warning', text });
  post({ type: 'end' });
  return true;
}

/** Header candidates with cells that refer to shared strings the workbook does not contain. */
let missingSharedStrings = 0;

/** The texts of a row, by 0-based column, for header detection (blank cells skipped, as exceljs' eachCell does). */
function rowTexts(row: SheetRow): Array<string | undefined> {
  const texts: Array<string | undefined> = [];
  row.cells.forEach((cell, column) => {
    if (cell === undefined || cell.value === null || cell.value === undefined) return;
    const text = cellToText(cell);
    if (typeof text !== 'string' && text.error === CELL_ERRORS.sharedString) missingSharedStrings++;
    texts[column] = typeof text === 'string' ? text : '';
  });
  return texts;
}

/**
 * Gives exceljs the workbook model it would read from `xl/workbook.xml`, and keeps it when exceljs'
 * own parse of that part yields nothing usable: then `_parseWorksheet` would throw reading
 * `this.model.sheets` (the symptom of exceljs#3064; its cause is fixed by unzipper-end-fix.ts, but
 * a workbook part exceljs cannot parse, e.g. with mc:AlternateContent, ends the same way).
 */
function seedWorkbookModel(reader: ExcelJS.stream.xlsx.WorkbookReader, workbook: WorkbookInfo): void {
  let model: { sheets?: unknown } = {
    sheets: workbook.sheets.map((s) => ({
      id: s.sheetId,
      name: s.name,
      rId: s.rId,
      state: s.hidden ? 'hidden' : 'visible',
    })),
  };
  let properties: { model?: unknown } = { model: { date1904: workbook.date1904 } };
  Object.defineProperty(reader, 'model', {
    get: () => model,
    set: (value: { sheets?: unknown } | undefined) => void (Array.isArray(value?.sheets) && (model = value!)),
  });
  Object.defineProperty(reader, 'properties', {
    get: () => properties,
    set: (value: { model?: unknown } | undefined) => void (value?.model !== undefined && (properties = value)),
  });
}

function unsupportedLayout(): UsersyncError {
  return fail('FILE_UNSUPPORTED_LAYOUT', {
    message:
      'The workbook has rows or cells without a valid position (written by a tool such as a database export). Open it in Excel or LibreOffice and save it again as .xlsx.',
  });
}

async function main(): Promise<void> {
  const workbook = await readWorkbookInfo(input.filePath);
  if (workbook.utf16 === true) {
    postFail(
      fail('FILE_UNSUPPORTED_LAYOUT', {
        message:
          'The workbook stores its XML as UTF-16 (as Excel Mobile does), which usersync cannot read. Open it in Excel or LibreOffice and save it again as .xlsx.',
      }),
    );
    return;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await readWorkbook(workbook);
      return;
    } catch (error) {
      // exceljs#3064: an intermittent TypeError reading 'sheets'; a second parse succeeds (PITFALLS §3.7).
      if (attempt === 1 && !headerSent && isSheetsRace(error)) continue;
      postFail(error instanceof UsersyncError ? error : classifyParseError(error));
      return;
    }
  }
}

void main();
