/**
 * exceljs 4.4.0's full (non-streaming) writer hands each XML part to JSZip as a JS string. JSZip
 * encodes strings to UTF-8 in 16K-character pieces, and a piece boundary can fall between the two
 * halves of a surrogate pair: each half becomes U+FFFD, so an emoji (or any character beyond the
 * BMP) in a cell is silently corrupted in the written file. Found by the hostile-values test (2 of
 * 300 emoji names written as `��`). Giving JSZip the part as UTF-8 bytes, encoded in one go, fixes
 * it — what exceljs already does in browsers.
 *
 * ZipStream is a CommonJS class shared by every exceljs writer, so patching its prototype applies
 * wherever and whenever exceljs was loaded (the template, test fixtures).
 *
 * Upstream (exceljs 4.4.0 lib/utils/zip-stream.js with jszip 3.10.2's string encoding; versions in
 * pinned.ts): no upstream issue that we know of.
 */
import { requireFromExceljs } from '../exceljs-require.js';

interface ZipStreamLike {
  append(data: unknown, options: { name: string; base64?: boolean }): void;
}

/** The patched append functions, so that a second call does not wrap one again. */
const patched = new WeakSet<object>();

/** Patches exceljs' ZipWriter (the copy exceljs loads) to hand JSZip UTF-8 bytes. Idempotent. */
export function encodeZipPartsAsUtf8(): void {
  const { ZipWriter } = requireFromExceljs('exceljs/lib/utils/zip-stream.js') as {
    ZipWriter: { prototype: ZipStreamLike };
  };
  const append = ZipWriter.prototype.append;
  if (patched.has(append)) return;
  const appendUtf8: ZipStreamLike['append'] = function (this: ZipStreamLike, data, options) {
    append.call(this, typeof data === 'string' && !options.base64 ? Buffer.from(data, 'utf8') : data, options);
  };
  patched.add(appendUtf8);
  ZipWriter.prototype.append = appendUtf8;
}
