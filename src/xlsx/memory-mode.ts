/**
 * Large files are imported in a lean-memory mode: peak RSS, not speed, is what limits them (SPEC
 * §7: a 1,000,000-row file under a fixed memory ceiling). Below the threshold nothing changes.
 *
 * Measured on the bench's 1M-row file (62 MB), SQLite, with the username index in place:
 * - V8 lets the old generation fill with promoted garbage (rows that lived through a few batches)
 *   up to several times the live heap before a full GC. `--heap-growing-percent=25` makes it
 *   collect once the heap grew 25 % past what the last GC left: main heap ~140 → ~90 MB.
 * - The reader worker's young generation capped at 8 MB (V8's default lets it reach 32).
 * Together: peak RSS 545 → 414 MB, wall time +10 % (50 → 55 s). On a 100k-row file the same
 * settings cost 4–25 % of the time for ~60 MB, which is why they are not the default.
 *
 * The heap flag is process-wide (V8 reads it at each GC; Node keeps flags writable after start),
 * so processFile holds it for a large file's whole import — the reports too: writing a 1M-row xlsx
 * report with V8's own heuristic let exceljs' garbage Buffers pile up to the run's peak (295 MB) —
 * and it goes back to V8's own heuristic (0) when the last holder lets go. The reader caps its
 * worker's young generation itself (openSpreadsheet decides by the same threshold).
 */
import { setFlagsFromString } from 'node:v8';

/** Files larger than this (~500,000 rows of the template) are read in lean-memory mode. */
export const LEAN_MEMORY_ABOVE_BYTES = 32 * 1024 * 1024;

/** The reader worker's young generation in lean mode. */
export const LEAN_WORKER_YOUNG_GENERATION_MB = 8;

const LEAN_HEAP_GROWING_PERCENT = 25;

/** Whether a file of this size is read in lean-memory mode. */
export const isLeanMemoryFile = (bytes: number): boolean => bytes > LEAN_MEMORY_ABOVE_BYTES;

let holders = 0;

/** Puts the process's heap in lean mode until the returned release is called (once). */
export function holdLeanHeap(): () => void {
  if (holders++ === 0) setHeapGrowingPercent(LEAN_HEAP_GROWING_PERCENT);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) setHeapGrowingPercent(0);
  };
}

/** Whether any import holds the lean heap now (for tests). */
export function leanHeapHeld(): boolean {
  return holders > 0;
}

function setHeapGrowingPercent(percent: number): void {
  try {
    setFlagsFromString(`--heap-growing-percent=${percent}`);
  } catch {
    // A runtime that refuses the flag reads at normal speed and memory; nothing else depends on it.
  }
}
