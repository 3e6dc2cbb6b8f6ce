/**
 * Passwords at rest (SPEC §2): the archived copy of a file that carried passwords is a rewrite
 * with the Password column emptied. The rewrite is read with the same reader as the import (so
 * hostile files stay contained in the worker) and written in the template layout — the ten
 * columns in order, one row per data row — as .xlsx for workbooks and .csv for CSV files.
 * Other sheets and unknown columns are not carried over; the report and register say so.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { chmod, rename, rm } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { COLUMN_INDEX, COLUMN_KEYS, TEMPLATE_HEADERS, type CellValue } from '../domain/columns.js';
import { FileError } from '../errors.js';
import { openSpreadsheet } from './read/index.js';
import { WorkbookWriter } from './report/workbook-writer.js';

const PASSWORD = COLUMN_INDEX.password;
const text = (cell: CellValue | undefined): string =>
  cell === undefined ? '' : typeof cell === 'string' ? cell : cell.error;

/**
 * Writes `to` (which must not exist) as the redacted copy of `from`. Resolves false, writing
 * nothing, when the file itself cannot be read back (it was rejected for that reason); other
 * failures (disk, permissions) throw, so the caller retries.
 * The row limit is lifted: a file rejected for having too many rows still gets every row redacted.
 */
export async function writeRedactedCopy(from: string, to: string, settings: Config['import']): Promise<boolean> {
  const temp = `${to}.tmp`;
  let reader;
  try {
    reader = await openSpreadsheet(from, { ...settings, maxRows: Number.MAX_SAFE_INTEGER });
    if (reader.header.format === 'csv') await writeCsv(reader.batches(), temp);
    else await writeXlsx(reader.batches(), temp, reader.header.sheetName ?? 'Users');
    await chmod(temp, 0o600);
    await rename(temp, to);
    return true;
  } catch (error) {
    await rm(temp, { force: true });
    if (error instanceof FileError) return false;
    throw error;
  } finally {
    await reader?.close();
  }
}

type Batches = AsyncIterable<ReadonlyArray<{ cells: ReadonlyArray<CellValue | undefined> }>>;

async function writeXlsx(batches: Batches, file: string, sheetName: string): Promise<void> {
  // Our own stream, with an error listener: exceljs' own file stream has none (a full disk would crash).
  const stream = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const failed = new Promise<never>((_, reject) => stream.on('error', reject));
  failed.catch(() => undefined);
  const closed = once(stream, 'close');
  const workbook = new WorkbookWriter({ stream, useStyles: false, useSharedStrings: false });
  const sheet = workbook.addWorksheet(sheetName);
  sheet.addRow(COLUMN_KEYS.map((key) => TEMPLATE_HEADERS[key])).commit();
  for await (const batch of batches) {
    for (const row of batch)
      sheet.addRow(COLUMN_KEYS.map((_, i) => (i === PASSWORD ? '' : text(row.cells[i])))).commit();
  }
  sheet.commit();
  await Promise.race([workbook.commit(), failed]);
  await Promise.race([closed, failed]);
}

async function writeCsv(batches: Batches, file: string): Promise<void> {
  const out = createWriteStream(file, { mode: 0o600, flags: 'wx' });
  const quote = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const write = async (line: string) => {
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(`${COLUMN_KEYS.map((key) => TEMPLATE_HEADERS[key]).join(',')}\r\n`);
  for await (const batch of batches) {
    for (const row of batch)
      await write(`${COLUMN_KEYS.map((_, i) => (i === PASSWORD ? '' : quote(text(row.cells[i])))).join(',')}\r\n`);
  }
  out.end();
  await once(out, 'close');
}
