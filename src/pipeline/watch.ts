/**
 * Watches the inbox and says when a file is ready to take (SPEC §2, PITFALLS §2).
 *
 * chokidar only tells us a path is a candidate; readiness is decided here, for every candidate
 * alike (files present at start included — chokidar#594 does not hold those):
 *   the entry is a regular file with one name (file-kind.ts; never a link, FIFO, device or socket)
 *   AND size and mtime unchanged for watch.stableMs
 *   AND (for .xlsx/.xlsm) the zip's central directory is complete
 *   AND no local process holds it open for writing (open-writers.ts, injected as `writersOf`).
 * A copy that pauses longer than stableMs half-way (PITFALLS §2.2) has no central directory yet,
 * so it keeps waiting — up to watch.incompleteTimeoutMs, after which it is handed over anyway and
 * the pipeline rejects it as truncated. A file a process still writes is never handed over.
 * Entries are examined with `lstat` and chokidar does not follow links, so nothing is read through
 * a link; the claim checks the entry again (the name can be swapped between the two).
 *
 * Only the top level is watched (depth 0), and only allowed names (isCandidateName). chokidar is
 * started on the inbox's real path (a link as the inbox itself is fine) once a `readdir` of it
 * works; when it fails, or a file of it cannot be examined, it is restarted with capped backoff and
 * `problem()` says why until it is back.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { refusalOf, type Refusal } from './file-kind.js';
import { describeWriters, type Writer } from './open-writers.js';

export interface ReadyFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface InboxWatcher {
  /** Resolves once the initial scan is done (or the first start failed: see problem()). */
  ready: Promise<void>;
  /** Paths being watched for stability (not yet ready). */
  pending(): number;
  /** The oldest mtime among paths not yet ready (Infinity when none): an older file may still come. */
  oldestPendingMtime(): number;
  /** Feeds a path found by other means (the rescan) through the same stability check. */
  consider(filePath: string): void;
  /** True while chokidar is running without a problem. */
  healthy(): boolean;
  /** Why the watcher is not running (it is being restarted), or null. */
  problem(): string | null;
  close(): Promise<void>;
}

const SPREADSHEET = /\.(xlsx|xlsm|csv)$/i;
// Office owner files, LibreOffice locks, partial downloads and editor swap files (PITFALLS §2.7).
const IGNORED = [/^\./, /^~\$/, /^\.~lock\..*#$/, /\.(tmp|part|crdownload|download|swp)$/i];

/** The names the daemon takes: *.xlsx *.xlsm *.csv in any case, never temp, lock or hidden files. */
export function isCandidateName(name: string): boolean {
  return SPREADSHEET.test(name) && !IGNORED.some((pattern) => pattern.test(name));
}

interface Tracked {
  size: number;
  mtimeMs: number;
  stableSince: number;
  firstSeen: number;
  timer?: NodeJS.Timeout;
  /** The writers last logged for it (logged again only when they change). */
  writersSeen?: string;
}

export interface WatchDeps {
  settings: Config['watch'];
  inbox: string;
  logger: Logger;
  /** True when the workbook's zip is complete (the read stage's check). */
  isZipComplete(filePath: string): Promise<boolean>;
  /** Local processes holding the file open for writing (none when /proc cannot tell). */
  writersOf(filePath: string): Promise<Writer[]>;
  onReady(file: ReadyFile): void;
  /** An entry that is not a regular file with one name: left alone, never read. */
  onRefused(refusal: Refusal): void;
  /** The path no longer names what it did (removed or replaced). */
  onGone(filePath: string): void;
  /** The wait before restart number `attempt` (1-based) after a failure. */
  retryDelayMs(attempt: number): number;
  now?: () => number;
}

export function createInboxWatcher(deps: WatchDeps): InboxWatcher {
  const { settings, logger } = deps;
  const log = logger.child({ module: 'watch' });
  const now = deps.now ?? Date.now;
  const tracked = new Map<string, Tracked>();
  const interval = Math.max(50, Math.min(500, Math.floor(settings.stableMs / 4) || 50));
  let instance: FSWatcher | undefined;
  let problem: string | null = null;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarting = false;
  let closed = false;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  /** Stops chokidar, says why, and starts it again after a backoff. */
  const fault = (reason: string, error?: unknown) => {
    if (closed || restarting) return; // several files failing at once: one restart
    restarting = true;
    const wait = deps.retryDelayMs(++failures);
    problem = reason;
    log.error('watch.failed', {
      reason,
      retryInMs: wait,
      attempt: failures,
      err: error === undefined ? undefined : describeError(error),
    });
    const old = instance;
    instance = undefined;
    void old?.close().catch(() => undefined);
    clearTimeout(restartTimer);
    restartTimer = setTimeout(() => void start(), wait);
    markReady(); // boot goes on; /healthz says degraded meanwhile
  };

  const start = async () => {
    restarting = false;
    if (closed) return;
    let root: string;
    try {
      root = await realpath(deps.inbox);
      await readdir(root);
    } catch (error) {
      return fault(
        `cannot read the inbox ${deps.inbox} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        error,
      );
    }
    if (closed) return; // closed while the inbox was being read: no chokidar to leak
    const w: FSWatcher = watch(root, {
      depth: 0,
      ignoreInitial: false,
      followSymlinks: false,
      usePolling: settings.usePolling,
      interval: settings.pollIntervalMs,
      binaryInterval: settings.binaryIntervalMs,
      // Never ignore when stats are missing, or directories vanish (PITFALLS §2.7).
      ignored: (p: string, stats?: { isFile(): boolean }) =>
        p !== root && stats?.isFile() === true && !isCandidateName(path.basename(p)),
    });
    instance = w;
    const inInbox = (p: string) => path.join(deps.inbox, path.basename(p));
    w.on('add', (p: string) => p !== root && consider(inInbox(p)));
    w.on('change', (p: string) => p !== root && consider(inInbox(p)));
    w.on('unlink', (p: string) => deps.onGone(inInbox(p)));
    w.on('error', (error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      if (instance === w) fault(`the inbox watcher failed on ${deps.inbox} (${code})`, error);
    });
    w.once('ready', () => {
      if (instance !== w) return; // failed meanwhile: a restart is scheduled
      if (problem !== null) log.info('watch.recovered', { inbox: deps.inbox, after: problem });
      problem = null;
      failures = 0;
      markReady();
    });
  };

  const check = async (filePath: string) => {
    const entry = tracked.get(filePath);
    if (!entry || closed) return;
    let info;
    try {
      info = await lstat(filePath);
    } catch (error) {
      tracked.delete(filePath);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return void deps.onGone(filePath); // moved away or deleted
      // Unreadable (the inbox's permissions changed): the restart re-finds it once it can be read.
      return fault(
        `cannot examine ${filePath} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        error,
      );
    }
    const t = now();
    if (info.size !== entry.size || info.mtimeMs !== entry.mtimeMs) {
      Object.assign(entry, { size: info.size, mtimeMs: info.mtimeMs, stableSince: t });
    } else if (t - entry.stableSince >= settings.stableMs) {
      const refusal = await refusalOf(filePath, info);
      if (refusal) {
        tracked.delete(filePath);
        return void deps.onRefused(refusal);
      }
      const writers = await deps.writersOf(filePath);
      if (writers.length > 0) {
        const who = describeWriters(writers);
        if (entry.writersSeen !== who) log.info('watch.open_for_writing', { file: path.basename(filePath), by: who });
        entry.writersSeen = who;
        // A /proc scan costs tens of milliseconds: look less often while a writer is at work.
        entry.timer = setTimeout(() => void check(filePath), interval * 4);
        return;
      } else {
        const zipComplete =
          /\.(xlsx|xlsm)$/i.test(filePath) && info.size > 0 ? await deps.isZipComplete(filePath) : true;
        if (zipComplete || t - entry.firstSeen >= settings.incompleteTimeoutMs) {
          if (!zipComplete)
            log.warn('watch.incomplete_timeout', { file: path.basename(filePath), waitedMs: t - entry.firstSeen });
          tracked.delete(filePath);
          deps.onReady({ path: filePath, size: info.size, mtimeMs: info.mtimeMs });
          return;
        }
      }
    }
    entry.timer = setTimeout(() => void check(filePath), interval);
  };

  const consider = (filePath: string) => {
    if (closed || !isCandidateName(path.basename(filePath)) || path.dirname(filePath) !== deps.inbox) return;
    const entry = tracked.get(filePath);
    const t = now();
    if (entry) {
      entry.stableSince = t; // any event restarts the stability clock
      return;
    }
    tracked.set(filePath, { size: -1, mtimeMs: -1, stableSince: t, firstSeen: t });
    setTimeout(() => void check(filePath), 0);
  };

  void start();

  return {
    ready,
    pending: () => tracked.size,
    oldestPendingMtime: () =>
      Math.min(Infinity, ...[...tracked.values()].map((t) => (t.mtimeMs < 0 ? Infinity : t.mtimeMs))),
    consider,
    healthy: () => problem === null && instance !== undefined && !closed,
    problem: () => problem,
    close: async () => {
      closed = true;
      clearTimeout(restartTimer);
      for (const entry of tracked.values()) clearTimeout(entry.timer);
      tracked.clear();
      await instance?.close();
    },
  };
}
