/**
 * Fixes the cause of exceljs#3064 (PITFALLS §3.7) for the xlsx worker: unzipper 0.10's `Parse`
 * emits 'end' as soon as its *input* has been written (`on('finish') → emit('end')`), not when it
 * has parsed every entry. exceljs' streaming reader then stops iterating and silently loses the
 * entries still being parsed: `xl/workbook.xml` (→ TypeError reading 'sheets'), sharedStrings,
 * styles, even whole sheets. Reproduced 1 in 20 parses of a 4-sheet exceljs-written file, and
 * every parse inside a worker thread.
 *
 * The fix drops that premature 'end' and ends the readable side with `push(null)` once the record
 * chain has really finished, so 'end' comes after every pushed entry has been consumed.
 * Only this worker thread's copy of the module is patched.
 */
import { createRequire } from 'node:module';

interface ParseStream {
  listeners(event: 'finish'): Array<(...args: unknown[]) => void>;
  removeListener(event: 'finish', listener: (...args: unknown[]) => void): void;
  push(chunk: null): boolean;
  _readRecord(): Promise<unknown>;
  __usersyncStarted?: boolean;
}

interface UnzipperModule {
  Parse: ((opts?: unknown) => ParseStream) & { prototype: ParseStream; __usersyncPatched?: boolean };
}

/** Patches unzipper.Parse (the copy exceljs loads). Idempotent. */
export function fixUnzipperEnd(): void {
  // Resolve unzipper the way exceljs does, so we patch the instance it uses.
  const requireFromExceljs = createRequire(createRequire(import.meta.url).resolve('exceljs'));
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
      const parse = original(opts);
      // Parse's own 'finish' listener is registered last (after PullStream's, which must stay).
      const listeners = parse.listeners('finish');
      const premature = listeners[listeners.length - 1];
      if (premature !== undefined && listeners.length >= 2) parse.removeListener('finish', premature);
      return parse;
    },
    { prototype: original.prototype, __usersyncPatched: true },
  );
  unzipper.Parse = patched as UnzipperModule['Parse'];
}
