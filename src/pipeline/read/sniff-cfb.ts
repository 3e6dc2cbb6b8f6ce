/**
 * Names an OLE compound file (D0 CF 11 E0) from its stream names (PITFALLS §3.12): an encrypted
 * OOXML workbook, a legacy .xls, or another Office 97-2003 document. Every outcome is a rejection.
 *
 * The names are found by scanning for directory entries ourselves instead of calling
 * `CFB.read()`: on a fuzzed .xls from the corpus (ExcelDataReader Test_git_issue_382_oom.xls)
 * cfb 1.2.2 grows an array to 169 M elements and V8 aborts the whole process ("Fatal JavaScript
 * invalid size error"), which no try/catch or worker thread can contain. The scan reads the file
 * in chunks, allocates nothing per entry but the names, and cannot loop.
 */
import type { FileHandle } from 'node:fs/promises';
import { fail, type UsersyncError } from '../../errors.js';

/** Directory entries are 128 bytes and start at multiples of 128 (sectors are 512 or 4096 bytes). */
const ENTRY_BYTES = 128;
const CHUNK_BYTES = 1024 * 1024;

/** Classifies the compound file open in `fh`; always returns the FileError to throw. */
export async function classifyCompoundFile(fh: FileHandle, size: number): Promise<UsersyncError> {
  return classifyStreamNames(await directoryNames(fh, size));
}

/** The rejection for a compound file holding these (lower-cased) entry names. */
export function classifyStreamNames(names: ReadonlySet<string>): UsersyncError {
  if (names.has('encryptedpackage') || names.has('encryptioninfo')) {
    return fail('FILE_ENCRYPTED', {
      message: 'This workbook is password-protected (an encrypted Excel file), so it cannot be read.',
    });
  }
  if (names.has('workbook') || names.has('book')) return fail('FILE_LEGACY_XLS');
  if (names.has('worddocument')) return notSpreadsheet('This is a legacy Word document (.doc), not a spreadsheet.');
  if (names.has('powerpoint document'))
    return notSpreadsheet('This is a legacy PowerPoint presentation (.ppt), not a spreadsheet.');
  if (!names.has('root entry')) {
    return fail('FILE_CORRUPT', {
      message: 'This is a damaged Microsoft Office 97-2003 (OLE) file, probably a legacy .xls; it cannot be read.',
    });
  }
  return notSpreadsheet('This is an OLE document such as a .doc or .msg, not a spreadsheet.');
}

/** Lower-cased names of every well-formed directory entry in the file. */
export async function directoryNames(fh: FileHandle, size: number): Promise<Set<string>> {
  const names = new Set<string>();
  const buffer = Buffer.alloc(CHUNK_BYTES);
  for (let position = 512; position < size; position += CHUNK_BYTES) {
    const { bytesRead } = await fh.read(buffer, 0, CHUNK_BYTES, position);
    for (let offset = 0; offset + ENTRY_BYTES <= bytesRead; offset += ENTRY_BYTES) {
      const name = entryName(buffer, offset);
      if (name !== undefined) names.add(name.toLowerCase());
    }
  }
  return names;
}

/** The name of the directory entry at `offset`, when the bytes there look like one. */
function entryName(buffer: Buffer, offset: number): string | undefined {
  const nameBytes = buffer.readUInt16LE(offset + 64); // including the UTF-16 NUL terminator
  const type = buffer[offset + 66]; // 1 storage, 2 stream, 5 root
  if (nameBytes < 4 || nameBytes > 64 || nameBytes % 2 !== 0 || (type !== 1 && type !== 2 && type !== 5))
    return undefined;
  if (buffer.readUInt16LE(offset + nameBytes - 2) !== 0) return undefined;
  let name = '';
  for (let i = 0; i < nameBytes - 2; i += 2) {
    const code = buffer.readUInt16LE(offset + i);
    if (code === 0) return undefined;
    name += String.fromCharCode(code);
  }
  return name;
}

function notSpreadsheet(message: string): UsersyncError {
  return fail('FILE_NOT_SPREADSHEET', { message });
}
