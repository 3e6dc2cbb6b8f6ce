/**
 * exceljs' streaming WorkbookWriter, loaded on its own: `import ExcelJS from 'exceljs'` loads the
 * whole library — its readers (unzipper and its polyfills), jszip, fast-csv — for a class that
 * needs none of them (measured here: ~300 ms to load all of exceljs, ~150 ms for the writer, on
 * the import's thread while the reader's worker keeps the other core busy). It zips with archiver,
 * not JSZip, so patchWorkbookWriter (JSZip's surrogate pairs) does not concern it; the report
 * applies patchStreamingWriter (src/xlsx/index.ts).
 */
import type ExcelJS from 'exceljs';
import { requireFromExceljs } from '../../xlsx/index.js';

export const WorkbookWriter = requireFromExceljs(
  'exceljs/lib/stream/xlsx/workbook-writer.js',
) as typeof ExcelJS.stream.xlsx.WorkbookWriter;
