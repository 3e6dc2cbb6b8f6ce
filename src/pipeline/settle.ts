/**
 * Making sure nobody is still writing a claimed file: before it is read, and once it was imported.
 *
 * The claim is a rename, so a writer that paused longer than watch.stableMs keeps writing into
 * the claimed file through its descriptor; a CSV has no end marker that would betray the cut (a
 * workbook's zip directory does). So, after the claim and before reading:
 *   no local process holds the file open for writing (open-writers.ts)  AND
 *   its size, mtime and ctime stayed unchanged for `quietMs` (watch.stableMs for a CSV)
 * and, once imported, {@link checkUnchanged} compares the file with the snapshot taken when it
 * settled: equal inode, size, mtime and ctime (nanoseconds) prove nothing was written, without
 * reading it again; only when they differ is the content hashed again, since a touch or a chmod
 * changes times but not bytes.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../errors.js';
import { fingerprintFile } from './fingerprint.js';
import { describeWriters, findWriters } from './open-writers.js';

/** The identity and state of a file, from `lstat` in nanoseconds. */
export interface Snapshot {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export async function snapshotOf(filePath: string): Promise<Snapshot> {
  const s = await lstat(filePath, { bigint: true });
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

export const sameSnapshot = (a: Snapshot, b: Snapshot): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

export interface SettleOptions {
  /** How long the file must stay unchanged after the claim (0: no quiet period, only the writer check). */
  quietMs: number;
  /** How often to look again while waiting. */
  intervalMs: number;
  /** Aborting ends the wait with IMPORT_INTERRUPTED (the file stays claimed). */
  signal?: AbortSignal;
  /** Called with what the file waits for, and with null once it no longer waits. */
  onWaiting?: (reason: string | null) => void;
  now?: () => number;
}

/** Waits until no local process writes the file and it stayed unchanged for `quietMs`; resolves to its snapshot then. */
export async function settleClaimed(filePath: string, options: SettleOptions): Promise<Snapshot> {
  const now = options.now ?? Date.now;
  const name = path.basename(filePath);
  let last = await snapshotOf(filePath);
  let quietSince = now();
  let waiting = false;
  try {
    for (;;) {
      const { writers } = await findWriters([last]);
      const current = await snapshotOf(filePath);
      if (!sameSnapshot(current, last)) {
        last = current;
        quietSince = now();
        waiting = true; // written to since the claim: say so while it settles again
      }
      if (writers.length === 0 && now() - quietSince >= options.quietMs) return last;
      if (writers.length > 0 || waiting) {
        waiting = true;
        const reason =
          writers.length > 0
            ? `${name} is still open for writing by ${describeWriters(writers)}`
            : `${name} is still changing (${last.size} bytes so far)`;
        options.onWaiting?.(reason);
      }
      await sleep(options.intervalMs, options.signal);
    }
  } finally {
    if (waiting) options.onWaiting?.(null);
  }
}

/**
 * Throws FILE_CHANGED_DURING_IMPORT (transient) when the file is no longer what was imported:
 * `settled` is its snapshot from before reading, `imported` the sha256 and size the import recorded.
 */
export async function checkUnchanged(
  filePath: string,
  settled: Snapshot,
  imported: { importId: number | null; sha256: string; bytes: number },
): Promise<void> {
  const current = await snapshotOf(filePath).catch(() => undefined);
  if (current && sameSnapshot(current, settled)) return;
  if (current && current.size === BigInt(imported.bytes) && current.ino === settled.ino) {
    const { sha256 } = await fingerprintFile(filePath);
    if (sha256 === imported.sha256) return;
  }
  const now = current === undefined ? 'it is gone' : `it now has ${current.size}`;
  const which = imported.importId === null ? 'the import' : `import #${imported.importId}`;
  throw fail('FILE_CHANGED_DURING_IMPORT', {
    message: `${path.basename(filePath)} changed while ${which} read it (${imported.bytes} bytes were read; ${now}): it was still being written.`,
    details: {
      file: filePath,
      bytesRead: imported.bytes,
      bytesNow: current === undefined ? null : Number(current.size),
    },
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(fail('IMPORT_INTERRUPTED'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(fail('IMPORT_INTERRUPTED'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
