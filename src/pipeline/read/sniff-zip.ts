/**
 * Looks inside a zip by its central directory only (yauzl, lazyEntries): what kind of document it
 * is, and whether its declared sizes are a zip bomb. Nothing is inflated here except the tiny
 * `mimetype` entry of OpenDocument files (PITFALLS §3.9, §3.12).
 */
import type { Entry, ZipFile } from 'yauzl';
import { requirePackage } from '../../require-package.js';
import { fail, UsersyncError } from '../../errors.js';
import type { ReadSettings } from './types.js';

const yauzl: typeof import('yauzl') = requirePackage('yauzl');

/** One central-directory entry, as much as classification needs. */
export interface ZipEntryInfo {
  readonly name: string;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly encrypted: boolean;
}

/** The central directory, and the text of an OpenDocument `mimetype` entry when there is one. */
export interface ZipDirectory {
  readonly entries: ZipEntryInfo[];
  readonly mimetype: string | undefined;
}

/** Most entries a workbook may have; a real one has dozens (1,024 sheets is ~3,000). */
const MAX_ENTRIES = 50_000;
/** The compression-ratio check applies only to entries larger than this (small XML compresses very well). */
const RATIO_MIN_BYTES = 10 * 1024 * 1024;

/** Reads the central directory. Throws FILE_CORRUPT when it is missing, truncated or inconsistent. */
export async function readZipDirectory(filePath: string): Promise<ZipDirectory> {
  let zip: ZipFile | undefined;
  try {
    zip = await yauzl.openPromise(filePath, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: false,
      validateEntrySizes: true,
    });
    if (zip.entryCount > MAX_ENTRIES) {
      throw fail('FILE_ZIP_BOMB', {
        message: `The workbook declares ${zip.entryCount} zip entries; a user list needs far fewer.`,
      });
    }
    const entries: ZipEntryInfo[] = [];
    let mimetypeEntry: Entry | undefined;
    for await (const entry of zip.eachEntry()) {
      // Data must lie before the central directory; a file cut short or spliced fails here.
      if (entry.relativeOffsetOfLocalHeader + entry.compressedSize > zip.fileSize) {
        throw fail('FILE_CORRUPT', {
          message: `The workbook is truncated: the zip entry "${entry.fileName}" ends after the end of the file. Copy or export it again.`,
        });
      }
      const encrypted = entry.isEncrypted();
      entries.push({
        name: entry.fileName,
        compressedSize: entry.compressedSize,
        uncompressedSize: entry.uncompressedSize,
        encrypted,
      });
      if (entry.fileName === 'mimetype' && entry.uncompressedSize <= 256 && !encrypted) mimetypeEntry = entry;
    }
    const mimetype = mimetypeEntry === undefined ? undefined : await readSmallEntry(zip, mimetypeEntry);
    return { entries, mimetype };
  } catch (error) {
    if (error instanceof UsersyncError) throw error;
    throw fail('FILE_CORRUPT', {
      message:
        'The workbook is damaged or incomplete: its zip directory cannot be read (the file may be truncated or still being copied).',
      cause: error,
    });
  } finally {
    zip?.close();
  }
}

/** Reads an entry of at most 256 declared bytes (validateEntrySizes stops a lying one). */
async function readSmallEntry(zip: ZipFile, entry: Entry): Promise<string> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('latin1').trim();
}

/** Rejects declared sizes that no user list needs (zip bombs), before anything is inflated. */
export function checkZipBomb(
  entries: readonly ZipEntryInfo[],
  settings: Pick<ReadSettings, 'maxUncompressedBytes' | 'maxCompressionRatio'>,
): void {
  let total = 0;
  for (const entry of entries) {
    total += entry.uncompressedSize;
    if (entry.uncompressedSize > RATIO_MIN_BYTES) {
      const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
      if (ratio > settings.maxCompressionRatio) {
        throw fail('FILE_ZIP_BOMB', {
          message: `The zip entry "${entry.name}" would expand ${Math.round(ratio)} times (to ${mib(entry.uncompressedSize)} MiB); import.maxCompressionRatio allows ${settings.maxCompressionRatio}.`,
          details: { entry: entry.name, ratio: Math.round(ratio), uncompressedBytes: entry.uncompressedSize },
        });
      }
    }
  }
  if (total > settings.maxUncompressedBytes) {
    throw fail('FILE_ZIP_BOMB', {
      message: `The workbook declares ${mib(total)} MiB of uncompressed data; import.maxUncompressedBytes allows ${mib(settings.maxUncompressedBytes)} MiB.`,
      details: { uncompressedBytes: total },
    });
  }
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

/**
 * Names the document a zip holds from its entry names. Returns normally only for an xlsx/xlsm
 * workbook the streaming reader can read; throws the FileError that says what it is otherwise.
 */
export function classifyZipEntries(entries: readonly ZipEntryInfo[], mimetype?: string): void {
  const names = new Set(entries.map((e) => e.name));
  const has = (re: RegExp): boolean => entries.some((e) => re.test(e.name));
  if (names.has('xl/workbook.bin')) throw fail('FILE_XLSB');
  if (names.has('xl/workbook.xml')) {
    if (!has(/sheet[^/]*\.xml$/i)) {
      throw fail('FILE_CORRUPT', {
        message: 'The workbook is incomplete: it has no worksheet part at all. Copy or export it again.',
      });
    }
    // exceljs' streaming reader only finds worksheets named xl/worksheets/sheetN.xml.
    if (!has(/^xl\/worksheets\/sheet\d+\.xml$/)) {
      throw fail('FILE_UNSUPPORTED_LAYOUT', {
        message:
          'The workbook stores its sheets under names usersync cannot read (an unusual generator). Open it in Excel or LibreOffice and save it again as .xlsx.',
      });
    }
    return;
  }
  // An .xlsb may keep its workbook part elsewhere than xl/, wherever _rels/.rels points (SheetJS "wtf_path").
  if (names.has('[Content_Types].xml') && has(/(^|\/)workbook\.bin$/i)) throw fail('FILE_XLSB');
  if (entries.some((e) => e.encrypted))
    throw fail('FILE_ENCRYPTED', { message: 'This is a password-protected zip archive.' });
  if (names.has('content.xml') && (names.has('mimetype') || names.has('META-INF/manifest.xml'))) {
    if (mimetype === undefined || mimetype.includes('spreadsheet')) throw fail('FILE_ODS');
    throw notSpreadsheet(`This is an OpenDocument file (${mimetype}), not a spreadsheet.`);
  }
  if (has(/(^|\/)Index\/Document\.iwa$/) || has(/(^|\/)Index\.zip$/) || has(/\.numbers\/$/)) throw fail('FILE_NUMBERS');
  if (names.has('word/document.xml')) throw notSpreadsheet('This is a Word document (.docx), not a spreadsheet.');
  if (names.has('ppt/presentation.xml'))
    throw notSpreadsheet('This is a PowerPoint presentation (.pptx), not a spreadsheet.');
  if (has(/\.xlsx$/i) || has(/\.csv$/i)) {
    throw notSpreadsheet(
      'This is a zip archive that contains other files; unzip it and drop in the .xlsx or .csv inside.',
    );
  }
  if (names.has('[Content_Types].xml') && has(/(^|\/)workbook\.xml$/i)) {
    // A workbook whose parts are not under xl/ (legal: _rels/.rels points to them), which the
    // streaming reader cannot follow.
    throw fail('FILE_UNSUPPORTED_LAYOUT', {
      message:
        'The workbook stores its parts under unusual names (not under xl/), which usersync cannot read. Open it in Excel or LibreOffice and save it again as .xlsx.',
    });
  }
  if (has(/^xl\/(worksheets\/|sharedStrings\.xml$|styles\.xml$|_rels\/workbook\.xml\.rels$)/)) {
    throw fail('FILE_CORRUPT', {
      message:
        'The workbook is incomplete: it has worksheet parts but no xl/workbook.xml, the part that lists the sheets.',
    });
  }
  if (names.has('[Content_Types].xml')) {
    throw notSpreadsheet('This is an Office Open XML package that holds no Excel workbook (no xl/workbook.xml).');
  }
  if (entries.length === 0) throw notSpreadsheet('This is an empty zip archive, not a spreadsheet.');
  throw notSpreadsheet('This is a zip archive, not an .xlsx workbook.');
}

function notSpreadsheet(message: string) {
  return fail('FILE_NOT_SPREADSHEET', { message });
}
