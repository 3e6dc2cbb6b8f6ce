/**
 * The read stage (SPEC §1): sniff the file by content, then stream its rows. .xlsx/.xlsm are
 * read by exceljs' streaming reader in a worker thread; CSV by csv-parse in this thread.
 *
 * Usage: `const reader = await openSpreadsheet(path, config.import)`, read `reader.header`,
 * `for await (const batch of reader.batches())`, and `await reader.close()` in a finally.
 */
import { openCsv } from './csv-reader.js';
import { LEAN_MEMORY_ABOVE_BYTES, openXlsx } from '../../xlsx/index.js';
import { sniffFile } from './sniff.js';
import type { ReadSettings, SpreadsheetReader } from './types.js';

export { cellToText, cleanText, holdLeanHeap, isLeanMemoryFile } from '../../xlsx/index.js';
export { isZipComplete, sniffFile } from './sniff.js';
export type { ReadSettings, SheetHeader, SpreadsheetReader } from './types.js';

/**
 * Sniffs the content, then opens the right reader. Resolves once the header row is known;
 * throws a FileError for every rejection (see {@link sniffFile}, plus FILE_NO_HEADER,
 * FILE_NO_USERNAME_COLUMN, FILE_NO_NAME_COLUMN, FILE_DUPLICATE_COLUMN, FILE_PARSE_*).
 * Files above `leanMemoryAboveBytes` (src/xlsx/memory-mode.ts; tests lower it) get a lean reader worker.
 */
export async function openSpreadsheet(
  filePath: string,
  settings: ReadSettings,
  options: { leanMemoryAboveBytes?: number } = {},
): Promise<SpreadsheetReader> {
  const { kind, bytes } = await sniffFile(filePath, settings);
  const lean = bytes > (options.leanMemoryAboveBytes ?? LEAN_MEMORY_ABOVE_BYTES);
  return kind === 'xlsx' ? openXlsx(filePath, settings, { lean }) : openCsv(filePath, settings);
}
