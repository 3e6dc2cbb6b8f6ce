/**
 * The report stage: every import, rejected or not, leaves `<stem>.report.json` (for machines,
 * SPEC §3) and `<stem>.report.xlsx` (for the HR person) behind.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../../errors.js';
import { writeJsonReport } from './write-json.js';
import type { ReportSource } from './types.js';

export type * from './types.js';
export { escapeCell, unescapeCell } from './escape-cell.js';
export { createMemoryRowSpool, createRowSpool, type RowSpool } from './row-spool.js';
export { reportHead, writeJsonReport } from './write-json.js';
export type { XlsxReportOptions } from './write-xlsx.js';
export { outcomeInWords, sameContentWarning, summaryLines } from './summary-lines.js';

/**
 * The xlsx writer, and exceljs behind it (~27 MB of RSS and ~0.1 s of CPU to load), is loaded
 * when first needed rather than with this module, so a 1M-row import does not carry it while it
 * reads (its reader worker has its own copy). processFile preloads it for files small enough that
 * speed, not memory, is what counts. A failed load is not remembered: the next report tries again.
 */
let xlsxWriter: Promise<typeof import('./write-xlsx.js')> | undefined;
export function loadXlsxWriter(): Promise<typeof import('./write-xlsx.js')> {
  xlsxWriter ??= import('./write-xlsx.js').catch((error: unknown) => {
    xlsxWriter = undefined;
    throw error;
  });
  return xlsxWriter;
}

/** Where the two reports of one import were written. */
export interface ReportPaths {
  jsonPath: string;
  xlsxPath: string;
}

/** Gives up after this many taken names: something is re-reporting in a loop. */
const MAX_SUFFIX = 1000;

async function exists(path: string): Promise<boolean> {
  try {
    await fsp.lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fail('FS_IO_FAILED', { message: `Cannot check whether ${path} exists.`, cause: error });
  }
}

/**
 * The first free pair `<stem>.report.json`/`.xlsx`, then `<stem>.report (2).json`/`.xlsx`, …
 * (the way a browser names a second download). Both names share the suffix, so the pair is
 * easy to match. A file that exists is never overwritten; the check-then-rename leaves a small
 * race with a second writer of the same stem in the same folder, which the daemon (one file at
 * a time, names prefixed with the import id) does not have.
 */
export async function chooseReportPaths(dir: string, stem: string): Promise<ReportPaths> {
  for (let n = 1; n <= MAX_SUFFIX; n += 1) {
    const base = join(dir, n === 1 ? `${stem}.report` : `${stem}.report (${n})`);
    const paths = { jsonPath: `${base}.json`, xlsxPath: `${base}.xlsx` };
    if (!(await exists(paths.jsonPath)) && !(await exists(paths.xlsxPath))) return paths;
  }
  throw fail('FS_IO_FAILED', {
    message: `More than ${MAX_SUFFIX} reports named ${stem}.report… already exist in ${dir}.`,
  });
}

/**
 * Creates the report folder if missing and checks that it can be written: processFile calls it
 * before the import opens, so that a folder that cannot take the reports (a mistyped --report-dir,
 * a file in its place, no permission) stops the import before it changes anything, instead of
 * after every row is committed with nothing to show for them.
 */
export async function prepareReportDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (cause) {
    throw fail('FS_IO_FAILED', { message: `Cannot create the report folder ${dir}.`, cause });
  }
  try {
    await fsp.access(dir, fsConstants.W_OK);
  } catch (cause) {
    throw fail('FS_IO_FAILED', { message: `Cannot write reports into ${dir}.`, cause });
  }
}

/**
 * Writes both reports of one import into `dir` (created if missing) and returns their paths.
 * The JSON goes first (cheap, and what automation reads); each file appears atomically.
 */
export async function writeReports(source: ReportSource, dir: string, stem: string): Promise<ReportPaths> {
  await prepareReportDir(dir);
  const paths = await chooseReportPaths(dir, stem);
  await writeJsonReport(source, paths.jsonPath);
  const { writeXlsxReport } = await loadXlsxWriter();
  await writeXlsxReport(source, paths.xlsxPath);
  return paths;
}
