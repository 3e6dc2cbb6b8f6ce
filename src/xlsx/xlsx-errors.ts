/**
 * Turns what exceljs and its unzipper throw into FileErrors a person can act on (PITFALLS §3.6),
 * and names the sheets that were not read.
 */
import { isExpectedSheet } from '../domain/workbook-layout.js';
import { fail, type UsersyncError } from '../errors.js';
import type { SheetInfo } from './sheet/workbook-sheets.js';

/** exceljs#3064 (PR #3065, unreleased): `Cannot read properties of undefined (reading 'sheets')`. */
export function isSheetsRace(error: unknown): boolean {
  return error instanceof TypeError && error.message.includes("reading 'sheets'");
}

/**
 * What the reader writes besides the file (exceljs' copy of a sheet stored before the shared
 * strings, spilled shared strings) failing for these reasons is this machine's fault, not the
 * file's: the import is retried later, and the file never goes to error/ for it.
 */
const SYSTEM_IO_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EMFILE', 'ENFILE', 'EACCES', 'EPERM']);

export function isSystemIoError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SYSTEM_IO_ERRORS.has(code);
}

/** An error's first line, at most 200 characters: the detail the messages below quote. */
function detailOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]?.slice(0, 200) ?? '';
}

/** FS_IO_FAILED for a system I/O failure of the reader (see SYSTEM_IO_ERRORS). */
export function readerIoFailure(error: unknown): UsersyncError {
  return fail('FS_IO_FAILED', {
    message: `Reading the workbook needs temporary files, and writing them failed (${detailOf(error)}). Free disk space or fix the permissions of the temp folder (TMPDIR); the file is imported again later.`,
    cause: error,
  });
}

/**
 * Maps an unexpected parse error to FILE_CORRUPT, FILE_UNSUPPORTED_LAYOUT or FILE_PARSE_FAILED,
 * or, for a disk or permission failure of the reader's own temp files, to FS_IO_FAILED (not a file error).
 */
export function classifyParseError(error: unknown): UsersyncError {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const detail = detailOf(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (isSystemIoError(error)) return readerIoFailure(error);
  const zlibError = typeof code === 'string' && /^Z_(DATA|BUF|NEED_DICT|STREAM)_ERROR$/.test(code);
  if (
    zlibError ||
    /FILE_ENDED|invalid signature|unexpected end of file|Z_DATA_ERROR|Z_BUF_ERROR|invalid (stored|distance|block|code)|incorrect header check|unknown compression/i.test(
      message,
    )
  ) {
    return fail('FILE_CORRUPT', {
      message: `The workbook is damaged: part of its zip data cannot be unpacked (${detail}). Copy or export it again.`,
      cause: error,
    });
  }
  // Cells without an `r` attribute make colCache.decodeAddress(undefined) throw (exceljs#2961, #2075, PITFALLS §3.4).
  // A cell reference exceljs cannot place (`r="0"`, `r="A"`) ends in "A Cell needs a Row".
  if (
    (error instanceof TypeError && /col-cache|decodeAddress|l2n|reading 'length'/.test(stack + message)) ||
    /Invalid Address|A Cell needs a Row/.test(message)
  ) {
    return fail('FILE_UNSUPPORTED_LAYOUT', {
      message:
        'The workbook has cells without their position (written by a tool such as a database export). Open it in Excel or LibreOffice and save it again as .xlsx.',
      cause: error,
    });
  }
  if (isSheetsRace(error)) {
    return fail('FILE_PARSE_FAILED', {
      message: 'The workbook could not be read (exceljs#3064 twice in a row). Drop the file in again.',
      cause: error,
    });
  }
  // exceljs' xforms cannot parse namespace-prefixed parts (<ns0:Relationships>): a layout problem.
  // Any other element where exceljs expects none means the part is not what its name says.
  const unexpectedNode = /Unexpected xml node in parse(?:Open: .*?"name":"([^"]*)"|Close: (\S+))/.exec(message);
  if (unexpectedNode !== null) {
    const node = unexpectedNode[1] ?? unexpectedNode[2] ?? '';
    if (node.includes(':')) {
      return fail('FILE_UNSUPPORTED_LAYOUT', {
        message:
          'The workbook was written with XML namespace prefixes usersync cannot read. Open it in Excel or LibreOffice and save it again as .xlsx.',
        cause: error,
      });
    }
    return fail('FILE_PARSE_FAILED', {
      message: `The workbook is damaged: one of its parts holds XML that does not belong there (an unexpected <${node.slice(0, 40)}> element). Open it in Excel or LibreOffice and save it again as .xlsx.`,
      cause: error,
    });
  }
  // exceljs-sax-fix.ts: an XML part that stops before its elements are closed was cut short (or
  // malformed so that its elements never close, e.g. a bare `&`).
  if (
    /unclosed tag|unclosed (comment|cdata|doctype)|unexpected end|document must contain a root element/i.test(
      message,
    ) &&
    !(error instanceof TypeError)
  ) {
    return fail('FILE_CORRUPT', {
      message: `The workbook is damaged: one of its parts is cut short or has malformed XML (${detail}). Copy or export it again; if it opens in Excel, save it again as .xlsx.`,
      cause: error,
    });
  }
  // saxes never expands DTD entities, so entity bombs ("billion laughs") end here, harmlessly.
  // saxes messages start with "line:column:" (unmatched closing tag, attribute without value, …).
  if (
    (/^\d+:\d+: /.test(message) ||
      /Unexpected|Invalid|Unclosed|Text data outside|disallowed character|entity|xml/i.test(message)) &&
    !(error instanceof TypeError)
  ) {
    return fail('FILE_PARSE_FAILED', {
      message: `The workbook contains invalid XML (${detail}). Open it in Excel or LibreOffice and save it again as .xlsx.`,
      cause: error,
    });
  }
  return fail('FILE_PARSE_FAILED', { message: `The workbook could not be read (${detail}).`, cause: error });
}

/**
 * "Sheet X was ignored" sentences for every sheet other than the one read, except those that are
 * meant to be there (the template's Instructions; a report's Summary and Rows).
 */
export function otherSheetWarnings(
  sheets: ReadonlyArray<Pick<SheetInfo, 'name' | 'hidden'>>,
  chosen: string,
  report = false,
): string[] {
  const warnings: string[] = [];
  for (const sheet of sheets) {
    if (sheet.name === chosen || isExpectedSheet(sheet.name, report)) continue;
    warnings.push(
      sheet.hidden
        ? `Hidden sheet "${sheet.name}" was ignored.`
        : `Sheet "${sheet.name}" was ignored: only the first sheet with a header row ("${chosen}") is read.`,
    );
  }
  return warnings;
}
