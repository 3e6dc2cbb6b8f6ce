/**
 * Inbox entries the daemon refuses (pipeline/file-kind.ts): each is left where it is, warned about
 * once (per path, kind and inode: the rescan finds it again every few minutes), counted in
 * /metrics, and listed in /healthz for as long as it stays in the inbox — a file the daemon will
 * not take is something an operator must see. /healthz stays 200 for it: the daemon is healthy,
 * and an orchestrator restarting it would change nothing.
 */
import { lstat } from 'node:fs/promises';
import { ERROR_CODES } from '../errors.js';
import type { Metrics } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import { refusedKind, type Refusal } from '../pipeline/file-kind.js';

export interface RefusedEntry {
  file: string;
  what: string;
  since: string;
}

export interface RefusedEntries {
  refuse(refusal: Refusal): void;
  /** The path no longer holds the refused entry (removed, or replaced by a regular file). */
  forget(filePath: string): void;
  /** The refused entries still in the inbox, each checked again with lstat. */
  list(): Promise<RefusedEntry[]>;
}

export function createRefusedEntries(logger: Logger, metrics: Metrics): RefusedEntries {
  const log = logger.child({ module: 'inbox' });
  const entries = new Map<string, Refusal & { since: string }>();
  const update = () => metrics.setRefusedPresent(entries.size);
  return {
    refuse(refusal) {
      const known = entries.get(refusal.path);
      if (known && known.kind === refusal.kind && known.ino === refusal.ino) return;
      entries.set(refusal.path, { ...refusal, since: new Date().toISOString() });
      metrics.refused(refusal.kind);
      update();
      log.warn('inbox.refused', {
        file: refusal.path,
        is: refusal.what,
        code: 'INBOX_ENTRY_REFUSED',
        help: ERROR_CODES.INBOX_ENTRY_REFUSED.help,
      });
    },
    forget(filePath) {
      if (entries.delete(filePath)) update();
    },
    async list() {
      for (const [filePath, entry] of entries) {
        const now = await lstat(filePath, { bigint: true }).catch(() => undefined);
        if (!now || String(now.ino) !== entry.ino || refusedKind(now) === undefined) entries.delete(filePath);
      }
      update();
      return [...entries.values()].map((e) => ({ file: e.path, what: e.what, since: e.since }));
    },
  };
}
