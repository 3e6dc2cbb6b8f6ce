/**
 * Loads only the part of unzipper 0.10 that exceljs' streaming reader uses, in the xlsx worker.
 *
 * exceljs' WorkbookReader does `require('unzipper')` and then calls `unzip.Parse()`, nothing else.
 * That require loads all of unzipper — Extract (fstream), Open (big-integer, Decrypt), ParseOne —
 * and, through `binary` → chainsaw → traverse, traverse's es-abstract typed-array polyfills: 85 of
 * the worker's 123 ms of loading exceljs' reader, on the path to the first row of every import.
 * Parse itself needs of `binary` only `binary.parse(buffer).word16lu(name)…vars` (and word32lu,
 * word64lu), which {@link parseWords} does the same way, byte for byte (binary 0.3.0's decodeLEu).
 *
 * Both modules are put into the require cache, under the paths exceljs and unzipper resolve, before
 * exceljs loads; when unzipper is already loaded whole (another module got there first) nothing
 * changes.
 *
 * Not a bug fix: it works around unzipper 0.10.14's index.js requiring all of its modules, and
 * re-implements the few reads of binary 0.3.0 that Parse makes (versions in pinned.ts).
 */
import { Module, createRequire } from 'node:module';
import { requireFromExceljs } from '../exceljs-require.js';

export function loadSlimUnzipper(): void {
  const main = requireFromExceljs.resolve('unzipper');
  const cache = requireFromExceljs.cache;
  if (cache[main] !== undefined) return;
  const fromUnzipper = createRequire(main);
  const binary = fromUnzipper.resolve('binary');
  if (cache[binary] === undefined) cache[binary] = cachedModule(binary, { parse: parseWords });
  const parse = fromUnzipper('./lib/parse.js') as unknown;
  cache[main] = cachedModule(main, { Parse: parse });
}

function cachedModule(filename: string, exports: object): Module {
  const module = new Module(filename);
  module.filename = filename;
  module.loaded = true;
  module.exports = exports;
  return module;
}

type WordReader = (name: string) => Words;
interface Words {
  word8lu: WordReader;
  word16lu: WordReader;
  word32lu: WordReader;
  word64lu: WordReader;
  vars: Record<string, number | null>;
}

/**
 * binary's `parse(buffer)`, little-endian unsigned words only: each reads the next N bytes into
 * `vars[name]`, or null when fewer than N are left (without moving on), as binary does.
 */
export function parseWords(buffer: Uint8Array): Words {
  let offset = 0;
  const vars: Record<string, number | null> = {};
  const word =
    (bytes: number): WordReader =>
    (name) => {
      if (offset + bytes <= buffer.length) {
        let value = 0;
        for (let i = 0; i < bytes; i++) value += 256 ** i * (buffer[offset + i] as number);
        offset += bytes;
        vars[name] = value;
      } else vars[name] = null;
      return self;
    };
  const self: Words = { word8lu: word(1), word16lu: word(2), word32lu: word(4), word64lu: word(8), vars };
  return self;
}
