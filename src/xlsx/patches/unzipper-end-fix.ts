/**
 * Two fixes to unzipper 0.10's streaming `Parse`, the zip reader inside exceljs' streaming reader,
 * for the xlsx worker. Only this worker thread's copy of the module is patched.
 *
 * 1. Zip errors are reported at once. unzipper emits an inflate error of an entry's data
 *    (`invalid distance too far back`, `invalid code -- missing end-of-block`, …) and `FILE_ENDED`
 *    (an entry longer than the file) on the `Parse` stream only, never on the entry stream. exceljs
 *    is usually waiting on that entry (reading it, or piping it into a temp file and awaiting the
 *    temp file's 'finish'), which then never ends nor fails: the parse sat idle until
 *    import.parseTimeoutMs (10 minutes by default). Found by fuzzing: one flipped bit in a sheet's
 *    compressed data was enough. Destroying the entry does not cover every case (exceljs may start
 *    reading or piping it only after it failed), so the fix hands every error of a Parse stream to
 *    `onZipError`, and the worker rejects the file as damaged right away.
 *
 * 2. The cause of exceljs#3064 (PITFALLS §3.7): `Parse` emits 'end' as soon as its *input* has
 *    been written (`on('finish') → emit('end')`), not when it has parsed every entry. exceljs'
 *    streaming reader then stops iterating and silently loses the entries still being parsed:
 *    `xl/workbook.xml` (→ TypeError reading 'sheets'), sharedStrings, styles, even whole sheets.
 *    Reproduced 1 in 20 parses of a 4-sheet exceljs-written file, and every parse inside a worker
 *    thread. The fix drops that premature 'end' and ends the readable side with `push(null)` once
 *    the record chain has really finished, so 'end' comes after every pushed entry was consumed.
 *
 * Upstream (unzipper 0.10.14, lib/parse.js; versions in pinned.ts): fix 2 is the cause of
 * exceljs#3064 (open; PR #3065 retries in exceljs instead). Fix 1 has no upstream issue that we
 * know of. unzipper 0.11+ rewrote Parse, but exceljs 4.4.0 depends on 0.10.
 */
import { requireFromExceljs } from '../exceljs-require.js';
import type { EntryParse } from '../zip/zip-entries.js';

interface ParseStream {
  listeners(event: 'finish'): Array<(...args: unknown[]) => void>;
  removeListener(event: 'finish', listener: (...args: unknown[]) => void): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  push(chunk: null): boolean;
  _readRecord(): Promise<unknown>;
  __usersyncStarted?: boolean;
}

interface UnzipperModule {
  Parse: ((opts?: unknown) => ParseStream) & { prototype: ParseStream; __usersyncPatched?: boolean };
}

/** Receives every error of every zip stream exceljs reads in this thread (fix 1). */
let zipErrorListener: ((error: Error) => void) | undefined;

/** When set, exceljs' next `Parse` comes from here instead of unzipper (zip-entries.ts). */
let entrySource: EntryParse | undefined;

/** Serves exceljs' next zips from `parse` (random access, zip-entries.ts); undefined: unzipper's streaming Parse. */
export function serveZipEntriesFrom(parse: EntryParse | undefined): void {
  entrySource = parse;
}

/**
 * Patches unzipper.Parse (the copy exceljs loads). Idempotent; the last `onZipError` given wins.
 * `onZipError` is called with each error a zip stream emits: the zip data is damaged.
 */
export function fixUnzipperEnd(onZipError?: (error: Error) => void): void {
  if (onZipError !== undefined) zipErrorListener = onZipError;
  // Resolve unzipper the way exceljs does, so we patch the instance it uses.
  const unzipper = requireFromExceljs('unzipper') as UnzipperModule;
  const original = unzipper.Parse;
  if (original.__usersyncPatched === true) return;

  const readRecord = original.prototype._readRecord;
  original.prototype._readRecord = function (this: ParseStream): Promise<unknown> {
    const chain = readRecord.call(this);
    if (this.__usersyncStarted !== true) {
      // The first call is the constructor's: its promise settles when the last record is read.
      this.__usersyncStarted = true;
      const end = (): void => void this.push(null);
      chain.then(end, end);
    }
    return chain;
  };

  const patched = Object.assign(
    function Parse(opts?: unknown): ParseStream {
      if (entrySource !== undefined) return entrySource() as unknown as ParseStream;
      const parse = original(opts);
      // Parse's own 'finish' listener is registered last (after PullStream's, which must stay).
      const listeners = parse.listeners('finish');
      const premature = listeners[listeners.length - 1];
      if (premature !== undefined && listeners.length >= 2) parse.removeListener('finish', premature);
      parse.on('error', (error) => zipErrorListener?.(error));
      return parse;
    },
    { prototype: original.prototype, __usersyncPatched: true },
  );
  unzipper.Parse = patched as UnzipperModule['Parse'];
}
