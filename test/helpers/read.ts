/** Shared by the read-stage tests: read a whole file, and expect a UsersyncError. */
import type { RawRow } from '../../src/domain/columns.js';
import { UsersyncError } from '../../src/errors.js';
import { openSpreadsheet, type ReadSettings, type SpreadsheetReader } from '../../src/pipeline/read/index.js';

/** Opens `path`, reads every batch, and closes the reader whatever happens. */
export async function readAllRows(
  path: string,
  settings: ReadSettings,
): Promise<{ reader: SpreadsheetReader; rows: RawRow[] }> {
  const reader = await openSpreadsheet(path, settings);
  const rows: RawRow[] = [];
  try {
    for await (const batch of reader.batches()) rows.push(...batch);
  } finally {
    await reader.close();
  }
  return { reader, rows };
}

/** The UsersyncError `promise` rejects with; fails when it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<UsersyncError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UsersyncError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}
