/**
 * Decides what a file is from its content (PITFALLS §3.12) before any parser sees it, and rejects
 * everything but .xlsx/.xlsm workbooks and CSV text with a message that says what the file is.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fail } from '../../errors.js';
import { classifyBytes } from './sniff-bytes.js';
import { classifyCompoundFile } from './sniff-cfb.js';
import { checkZipBomb, classifyZipEntries, readZipDirectory } from './sniff-zip.js';
import type { ReadSettings } from './types.js';

const HEAD_BYTES = 64 * 1024;

/** The kind of a readable file. */
export interface SniffResult {
  kind: 'xlsx' | 'csv';
  bytes: number;
}

/**
 * Sniffs the file: magic bytes, then the zip central directory (never inflated) or the OLE
 * stream names. Resolves only for a readable .xlsx/.xlsm or CSV; throws a FileError otherwise
 * (FILE_NOT_FOUND, FILE_EMPTY, FILE_TOO_LARGE, FILE_LEGACY_XLS, FILE_XLSB, FILE_ODS,
 * FILE_NUMBERS, FILE_ENCRYPTED, FILE_CORRUPT, FILE_ZIP_BOMB, FILE_UNSUPPORTED_LAYOUT,
 * FILE_NOT_SPREADSHEET).
 */
export async function sniffFile(filePath: string, settings: ReadSettings): Promise<SniffResult> {
  const fh = await openRegularFile(filePath);
  try {
    const { size } = await fh.stat();
    if (size === 0) throw fail('FILE_EMPTY');
    if (size > settings.maxFileBytes) {
      throw fail('FILE_TOO_LARGE', {
        message: `The file is ${size} bytes; import.maxFileBytes allows ${settings.maxFileBytes}.`,
        details: { bytes: size, maxFileBytes: settings.maxFileBytes },
      });
    }
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await fh.read(head, 0, head.length, 0);
    switch (classifyBytes(head)) {
      case 'text':
        return { kind: 'csv', bytes: size };
      case 'cfb':
        throw await classifyCompoundFile(fh, size);
      case 'zip': {
        const { entries, mimetype } = await readZipDirectory(filePath);
        checkZipBomb(entries, settings);
        classifyZipEntries(entries, mimetype);
        return { kind: 'xlsx', bytes: size };
      }
    }
  } finally {
    await fh.close();
  }
}

/**
 * For the daemon's debounce: false while a file that starts like a zip has no readable central
 * directory yet (still being written, or truncated); true otherwise. A file that is not a zip at
 * all (CSV, .xls, empty) gives true: there is nothing to wait for, and sniffing will name it.
 */
export async function isZipComplete(filePath: string): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(filePath, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead < 2 || head[0] !== 0x50 || head[1] !== 0x4b) return true;
  } finally {
    await fh.close();
  }
  try {
    await readZipDirectory(filePath);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens a path that must be a regular file. ENOENT/EISDIR reject here instead of surfacing later
 * as an uncaughtException from a stream (PITFALLS §3.5).
 */
export async function openRegularFile(filePath: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(filePath, 'r');
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
      throw fail('FILE_NOT_FOUND', { message: `The file ${filePath} does not exist or is not a regular file.`, cause });
    }
    throw fail('FS_IO_FAILED', {
      message: `The file ${filePath} could not be opened (${code ?? 'unknown error'}).`,
      cause,
    });
  }
  const stat = await fh.stat();
  if (!stat.isFile()) {
    await fh.close();
    throw fail('FILE_NOT_FOUND', { message: `${filePath} is not a regular file.` });
  }
  return fh;
}
