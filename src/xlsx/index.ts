/**
 * The xlsx engine: what the rest of usersync may use of it. Everything else under src/xlsx/ is
 * internal (the zip and XML readers, the worker thread, the patches to exceljs' dependencies).
 *
 * - Reading: `openXlsx` starts the worker thread that streams a sniffed .xlsx/.xlsm's rows
 *   (reader/xlsx-reader.ts). The read stage sniffs the file and picks the reader.
 * - Memory: files above LEAN_MEMORY_ABOVE_BYTES are imported in lean-memory mode (memory-mode.ts).
 * - Cell text: `cellToText` and `cleanText`, the one place a cell becomes text (sheet/cell-to-text.ts).
 * - Writing: the report and the template write with exceljs itself, resolved through
 *   `requireFromExceljs`, after `patchStreamingWriter()` / `patchWorkbookWriter()` (patches/).
 *
 * Importing this module loads no part of exceljs: the patches are applied by the calls above, and
 * the reading patches only inside the worker thread (they must run before exceljs loads there).
 */
import { cacheEmptyStyleIds } from './patches/exceljs-style-cache.js';
import { useNativeCrc32 } from './patches/zip-crc32.js';

export { openXlsx } from './reader/xlsx-reader.js';
export { LEAN_MEMORY_ABOVE_BYTES, holdLeanHeap, isLeanMemoryFile } from './memory-mode.js';
export { cellToText, cleanText } from './sheet/cell-to-text.js';
export { requireFromExceljs } from './exceljs-require.js';
export { waitForZip } from './patches/zip-backpressure.js';
export { encodeZipPartsAsUtf8 as patchWorkbookWriter } from './patches/exceljs-writer-fix.js';

/** Speed-ups of exceljs' streaming WorkbookWriter (the reports): empty styles cached, zlib's CRC-32. Idempotent. */
export function patchStreamingWriter(): void {
  cacheEmptyStyleIds();
  useNativeCrc32();
}
