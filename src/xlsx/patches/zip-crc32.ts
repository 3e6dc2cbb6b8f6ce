/**
 * The report zip's CRC-32, computed by zlib (native) instead of the `crc-32` package in JavaScript.
 *
 * archiver checks every byte it deflates through crc32-stream, which calls `crc-32`'s `buf` on the
 * import's thread: ~20–25 ms for a 100k-row report's 26 MB Rows sheet, at the end of an import,
 * while that thread has nothing else to do but wait for the zip. `zlib.crc32` (Node ≥ 20.15) is the
 * same CRC (a test holds the two to the same values, chained as crc32-stream chains them).
 *
 * crc32-stream reads `crc32.buf` at every call, so replacing the property on the module object
 * that archiver's copy loads is enough; it is resolved the way archiver resolves it.
 *
 * Not a bug fix: it works around crc32-stream 4.0.3 computing through crc-32 1.2.2 in JavaScript
 * (archiver 5.3.2, exceljs 4.4.0's writer; versions in pinned.ts). No upstream issue.
 */
import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';
import { requireFromExceljs } from '../exceljs-require.js';

interface Crc32Module {
  buf(data: Uint8Array, seed?: number): number;
}

const along = (from: string, name: string): string => createRequire(from).resolve(name);

/** `crc-32` as archiver's crc32-stream loads it, with its own `buf` kept aside; loaded on first use. */
let loaded: { module: Crc32Module; javascript: Crc32Module['buf'] } | undefined;

function crc32Module(): { module: Crc32Module; javascript: Crc32Module['buf'] } {
  if (loaded === undefined) {
    const zipStream = along(requireFromExceljs.resolve('archiver'), 'zip-stream');
    const crcStream = along(along(zipStream, 'compress-commons'), 'crc32-stream');
    const module = createRequire(crcStream)('crc-32') as Crc32Module;
    loaded = { module, javascript: module.buf.bind(module) };
  }
  return loaded;
}

/** The JavaScript implementation replaced here, for the test that compares the two. */
export const javascriptCrc32: Crc32Module['buf'] = (data, seed) => crc32Module().javascript(data, seed);

// `crc-32` returns a signed 32-bit value and takes one as its seed; zlib's are unsigned.
export const nativeCrc32: Crc32Module['buf'] = (data, seed = 0) => crc32(data, seed >>> 0) | 0;

/** Makes archiver's zip CRC-32 zlib's. Idempotent. */
export function useNativeCrc32(): void {
  crc32Module().module.buf = nativeCrc32;
}
