/**
 * Classifies a file by its first bytes (PITFALLS §3.12): never by its name, because HR systems
 * export HTML, SpreadsheetML 2003 and CSV files named `.xls` or `.xlsx`. Pure.
 */
import { fail } from '../../errors.js';

/** What the first bytes say. `zip` and `cfb` need a closer look at the container's directory. */
export type ByteKind = 'zip' | 'cfb' | 'text';

const SAVE_AS_XLSX = 'Open it in Excel or LibreOffice and save it as "Excel Workbook (.xlsx)" (or as "CSV UTF-8").';

const startsWith = (head: Uint8Array, bytes: readonly number[]): boolean =>
  head.length >= bytes.length && bytes.every((b, i) => head[i] === b);

/** Binary formats people drop in by mistake, named so the message can say what the file is. */
const BINARY_MAGIC: ReadonlyArray<{ bytes: readonly number[]; what: string }> = [
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document' },
  { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image' },
  { bytes: [0xff, 0xd8, 0xff], what: 'a JPEG image' },
  { bytes: [0x47, 0x49, 0x46, 0x38], what: 'a GIF image' },
  { bytes: [0x1f, 0x8b], what: 'a gzip-compressed file' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf], what: 'a 7-Zip archive' },
  { bytes: [0x52, 0x61, 0x72, 0x21], what: 'a RAR archive' },
  { bytes: [0x42, 0x5a, 0x68], what: 'a bzip2-compressed file' },
];

/**
 * Classifies `head` (the first up to 64 KiB of a non-empty file). Returns the container kind to
 * inspect next, or throws the FileError that says what the file is and what to do.
 */
export function classifyBytes(head: Uint8Array): ByteKind {
  if (startsWith(head, [0x50, 0x4b]) && head.length >= 4 && [3, 5, 7].includes(head[2] ?? 0)) return 'zip';
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'cfb';
  if (isRawBiff(head)) {
    throw fail('FILE_LEGACY_XLS', {
      message: 'This is a very old Excel workbook (Excel 2.x–4.0 BIFF format), which usersync does not read.',
    });
  }
  if (isBareBiff8(head)) {
    throw fail('FILE_LEGACY_XLS', {
      message:
        'This is a legacy Excel workbook stream (BIFF5/BIFF8, .xls) without its usual container, which usersync does not read.',
    });
  }
  for (const { bytes, what } of BINARY_MAGIC) {
    if (startsWith(head, bytes)) throw notSpreadsheet(`This is ${what}, not a spreadsheet.`);
  }
  const utf = unicodeBom(head);
  if (utf !== undefined) {
    throw notSpreadsheet(
      `This is a ${utf} text file; usersync reads CSV files only as UTF-8 or Windows-1252. Save it again as "CSV UTF-8".`,
    );
  }
  if (head.includes(0)) {
    if (looksUtf32(head)) {
      throw notSpreadsheet(
        'This looks like a UTF-32 text file without a byte-order mark; usersync reads CSV files only as UTF-8 or Windows-1252. Save it again as "CSV UTF-8".',
      );
    }
    if (looksUtf16(head)) {
      throw notSpreadsheet(
        'This looks like a UTF-16 text file without a byte-order mark; usersync reads CSV files only as UTF-8 or Windows-1252. Save it again as "CSV UTF-8".',
      );
    }
    throw notSpreadsheet(damagedTextOrBinary(head));
  }
  rejectMarkup(head);
  if (controlCharacterShare(head) > 0.01) throw notSpreadsheet(damagedTextOrBinary(head));
  return 'text';
}

/**
 * The message for bytes with NULs or many control characters: a text (CSV) file with a few of them
 * is damaged or not a CSV export, which "a binary file" would not tell the person.
 */
function damagedTextOrBinary(head: Uint8Array): string {
  let nuls = 0;
  let controls = 0;
  let printable = 0;
  let high = 0;
  for (const b of head) {
    if (b === 0) nuls++;
    else if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f)) printable++;
    else if (b >= 0x80) high++;
    else controls++;
  }
  // Bytes above 0x7F count as text only when they form UTF-8 (a BMP image is mostly 0xFF).
  const text = printable + (high > 0 && isUtf8(head) ? high : 0);
  if (text / head.length < 0.9) return 'This is a binary file of a kind usersync does not know, not a spreadsheet.';
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  const found = [
    nuls > 0 ? plural(nuls, 'NUL byte') : '',
    controls > 0 ? plural(controls, 'other control character') : '',
  ]
    .filter((t) => t !== '')
    .join(' and ');
  return `This looks like a text (CSV) file, but it contains ${found}, which a CSV file never has: it is damaged or was not exported as CSV. Export the list again as "CSV UTF-8" (or .xlsx).`;
}

function isUtf8(head: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true }); // a character cut at the end is fine
    return true;
  } catch {
    return false;
  }
}

function notSpreadsheet(message: string) {
  return fail('FILE_NOT_SPREADSHEET', { message });
}

/** BIFF2–BIFF4 worksheets start with a BOF record (09 00 / 09 02 / 09 04) outside any container. */
function isRawBiff(head: Uint8Array): boolean {
  return (
    head.length >= 4 &&
    head[0] === 0x09 &&
    [0x00, 0x02, 0x04].includes(head[1] ?? -1) &&
    (head[3] ?? 1) === 0 &&
    (head[2] ?? 0) <= 0x20
  );
}

function unicodeBom(head: Uint8Array): string | undefined {
  if (startsWith(head, [0x00, 0x00, 0xfe, 0xff]) || startsWith(head, [0xff, 0xfe, 0x00, 0x00])) return 'UTF-32';
  if (startsWith(head, [0xfe, 0xff]) || startsWith(head, [0xff, 0xfe])) return 'UTF-16';
  return undefined;
}

/** A BIFF5/BIFF8 BOF record (type 09 08, length 6 to 16) outside a compound file: a bare .xls stream. */
function isBareBiff8(head: Uint8Array): boolean {
  return (
    head.length >= 8 &&
    head[0] === 0x09 &&
    head[1] === 0x08 &&
    (head[2] ?? 0) >= 6 &&
    (head[2] ?? 0) <= 16 &&
    head[3] === 0x00
  );
}

/** Three NULs in every four bytes, the other byte ASCII: UTF-32 text (LE or BE). */
function looksUtf32(head: Uint8Array): boolean {
  const n = Math.min(head.length, 512) & ~3;
  if (n < 8) return false;
  for (const offset of [0, 3]) {
    let hits = 0;
    for (let i = 0; i < n; i += 4) {
      const ascii = head[i + offset]!;
      const zeros = [0, 1, 2, 3].filter((k) => k !== offset).every((k) => head[i + k] === 0);
      if (zeros && ascii !== 0) hits++;
    }
    if (hits >= (n / 4) * 0.9) return true;
  }
  return false;
}

/** Many NULs at odd (or even) positions and ASCII in between: UTF-16 text. */
function looksUtf16(head: Uint8Array): boolean {
  const n = Math.min(head.length, 512);
  let oddZeros = 0;
  let evenZeros = 0;
  for (let i = 0; i < n; i++) if (head[i] === 0) i % 2 === 0 ? evenZeros++ : oddZeros++;
  return Math.max(oddZeros, evenZeros) > n / 4 && Math.min(oddZeros, evenZeros) < n / 50;
}

/** Share of control characters other than tab, CR, LF and form feed. */
function controlCharacterShare(head: Uint8Array): number {
  let control = 0;
  for (const b of head) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) control++;
  return head.length === 0 ? 0 : control / head.length;
}

/** HTML, SpreadsheetML 2003, flat ODF, SYLK and RTF are text but not CSV: say what they are. */
function rejectMarkup(head: Uint8Array): void {
  const text = new TextDecoder('latin1')
    .decode(head.subarray(0, 4096))
    .replace(/^\uFEFF|^\u00EF\u00BB\u00BF/, '')
    .trimStart();
  const lower = text.toLowerCase();
  // SYLK: "ID;P…" then records such as "P;…", "C;…", "F;…". A CSV whose header starts "ID;Name"
  // (a common HR export) must stay a CSV.
  if (/^ID;P[^\r\n]*(\r\n|\r|\n)[A-Z]{1,2};/.test(text)) {
    throw notSpreadsheet(`This is a SYLK (.slk) file, not an .xlsx workbook. ${SAVE_AS_XLSX}`);
  }
  if (lower.startsWith('{\\rtf')) throw notSpreadsheet('This is a Rich Text (RTF) document, not a spreadsheet.');
  if (!lower.startsWith('<')) return;
  if (lower.includes('urn:schemas-microsoft-com:office:spreadsheet')) {
    throw notSpreadsheet(
      `This is an "XML Spreadsheet 2003" file disguised as a spreadsheet, not a real .xlsx workbook. ${SAVE_AS_XLSX}`,
    );
  }
  if (lower.includes('urn:oasis:names:tc:opendocument:xmlns:office')) {
    throw fail('FILE_ODS', { message: 'This is a flat OpenDocument (.fods) file, which usersync does not read.' });
  }
  if (/<(!doctype\s+html|html|table|body|head|meta)\b/.test(lower)) {
    throw notSpreadsheet(
      `This is an HTML page disguised as a spreadsheet (some HR systems export "Excel" files this way). ${SAVE_AS_XLSX}`,
    );
  }
  throw notSpreadsheet(`This is an XML file, not a spreadsheet. ${SAVE_AS_XLSX}`);
}
