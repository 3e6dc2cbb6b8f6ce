/**
 * Watches the inbox and says when a file is ready to take (SPEC §2, PITFALLS §2).
 *
 * chokidar only tells us a path is a candidate; readiness is decided here, for every candidate
 * alike (files present at start included — chokidar#594 does not hold those):
 *   size and mtime unchanged for watch.stableMs  AND  (for .xlsx/.xlsm) the zip's central
 *   directory is complete. A copy that pauses longer than stableMs half-way (PITFALLS §2.2) has no
 *   central directory yet, so it keeps waiting — up to watch.incompleteTimeoutMs, after which it is
 *   handed over anyway and the pipeline rejects it as truncated.
 * Only the top level is watched (depth 0), and only allowed names (isCandidateName).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

export interface ReadyFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface InboxWatcher {
  /** Resolves once the initial scan is done. */
  ready: Promise<void>;
  /** Paths being watched for stability (not yet ready). */
  pending(): number;
  /** The oldest mtime among paths not yet ready (Infinity when none): an older file may still come. */
  oldestPendingMtime(): number;
  /** Feeds a path found by other means (the rescan) through the same stability check. */
  consider(filePath: string): void;
  /** True while chokidar is running and has not reported a fatal error. */
  healthy(): boolean;
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
}

export interface WatchDeps {
  settings: Config['watch'];
  inbox: string;
  logger: Logger;
  /** True when the workbook's zip is complete (the read stage's check). */
  isZipComplete(filePath: string): Promise<boolean>;
  onReady(file: ReadyFile): void;
  now?: () => number;
}

export function createInboxWatcher(deps: WatchDeps): InboxWatcher {
  const { settings, logger } = deps;
  const now = deps.now ?? Date.now;
  const tracked = new Map<string, Tracked>();
  const interval = Math.max(50, Math.min(500, Math.floor(settings.stableMs / 4) || 50));
  let healthy = true;
  let closed = false;

  const check = async (filePath: string) => {
    const entry = tracked.get(filePath);
    if (!entry || closed) return;
    let info;
    try {
      info = await stat(filePath);
    } catch {
      tracked.delete(filePath); // gone (moved away, deleted): nothing to take
      return;
    }
    if (!info.isFile()) return void tracked.delete(filePath);
    const t = now();
    if (info.size !== entry.size || info.mtimeMs !== entry.mtimeMs) {
      Object.assign(entry, { size: info.size, mtimeMs: info.mtimeMs, stableSince: t });
    } else if (t - entry.stableSince >= settings.stableMs) {
      const zipComplete = /\.(xlsx|xlsm)$/i.test(filePath) && info.size > 0 ? await deps.isZipComplete(filePath) : true;
      if (zipComplete || t - entry.firstSeen >= settings.incompleteTimeoutMs) {
        if (!zipComplete) logger.warn('watch.incomplete_timeout', { file: path.basename(filePath), waitedMs: t - entry.firstSeen });
        tracked.delete(filePath);
        deps.onReady({ path: filePath, size: info.size, mtimeMs: info.mtimeMs });
        return;
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

  const watcher: FSWatcher = watch(deps.inbox, {
    depth: 0,
    ignoreInitial: false,
    usePolling: settings.usePolling,
    interval: settings.pollIntervalMs,
    binaryInterval: settings.binaryIntervalMs,
    // Never ignore when stats are missing, or directories vanish (PITFALLS §2.7).
    ignored: (p: string, stats?: { isFile(): boolean }) => p !== deps.inbox && stats?.isFile() === true && !isCandidateName(path.basename(p)),
  });
  watcher.on('add', consider).on('change', consider);
  watcher.on('error', (error) => {
    healthy = false;
    logger.error('watch.error', { err: describeError(error) });
  });
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));

  return {
    ready,
    pending: () => tracked.size,
    oldestPendingMtime: () => Math.min(Infinity, ...[...tracked.values()].map((t) => (t.mtimeMs < 0 ? Infinity : t.mtimeMs))),
    consider,
    healthy: () => healthy && !closed,
    close: async () => {
      closed = true;
      for (const entry of tracked.values()) clearTimeout(entry.timer);
      tracked.clear();
      await watcher.close();
    },
  };
}
