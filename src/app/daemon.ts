/**
 * The daemon's work loop (SPEC §2): the queue, retries and health; one file at a time, oldest
 * mtime first.
 *
 *   inbox file ready → re-check → claim (rename into processing/; links and other non-regular
 *   entries refused) → processFile with the claim's steps (claim-steps.ts: settle, verify, archive)
 *
 * pipeline/process-file.ts states the life of the file from there on.
 *
 * Faults are classified: a FileError is the file's own (it still finishes, in error/); anything
 * else — database down or busy, disk full, permission denied — leaves the file where it is
 * (inbox or processing/) and retries it with capped exponential backoff and jitter, while
 * /healthz reports degraded. A file is never sent to error/ for a fault that is not its own.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/knex.js';
import { countWaitingHolds, getHold, listApprovedHolds } from '../db/repositories/holds.js';
import { describeError, UsersyncError } from '../errors.js';
import type { Metrics } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import type { AuditTrail } from '../pipeline/audit.js';
import { checkClaimed, claimFile, listClaimed, returnToInbox } from '../pipeline/claim.js';
import type { Refusal } from '../pipeline/file-kind.js';
import type { PasswordHasher } from '../pipeline/passwords.js';
import { processFile, type ProcessResult } from '../pipeline/process-file.js';
import type { ReadyFile } from '../pipeline/watch.js';
import { DAEMON_ACTOR, daemonActor } from './actor.js';
import { backoffCeiling } from './backoff.js';
import { claimedRequest, claimSteps, type Claimed } from './claim-steps.js';
import { approvalProblem, approvedClaim, retireHeldReports, voidApproval } from './holds.js';

export interface DaemonDeps {
  config: Readonly<Config>;
  db: Database;
  logger: Logger;
  audit: AuditTrail;
  hasher: PasswordHasher;
  metrics: Metrics;
  /** Sends a path back through the watcher's stability check (it changed while queued). */
  recheck(filePath: string): void;
  /** The oldest mtime among inbox files still settling (Infinity when none). */
  oldestSettlingMtime(): number;
  /** An entry refused at the claim: a link, FIFO, device, socket or hard link (left in the inbox). */
  onRefused(refusal: Refusal): void;
  random?: () => number;
}

export interface LastImport {
  importId: number | null;
  file: string;
  outcome: string;
  finishedAt: string;
}

export interface Daemon {
  /** A stable inbox file, ready to take. */
  enqueue(file: ReadyFile): void;
  /** Claimed files found in processing/ at start: imported again first. */
  recover(): Promise<number>;
  /** Starts (or resumes) the loop. */
  kick(): void;
  /** Looks for approved holds (SPEC §9) every few seconds from now on, and queues each for its import. */
  watchApprovals(): void;
  status(): {
    queued: number;
    processing: string | null;
    retrying: number;
    /** What the file being taken waits for (a writer), or null. */
    waiting: string | null;
    degraded: string | null;
    lastImport: LastImport | null;
    /** Held imports waiting for a decision (SPEC §9), as last read from the register; null before the first read. */
    held: number | null;
  };
  /** Stops taking work; the current batch commits and the file stays claimed for recovery. */
  stop(): Promise<void>;
}

export function createDaemon(deps: DaemonDeps): Daemon {
  const { config, logger } = deps;
  const log = logger.child({ module: 'daemon' });
  const random = deps.random ?? Math.random;
  const inboxQueue = new Map<string, ReadyFile & { readyAt: number }>();
  const claimedQueue: Claimed[] = [];
  const attempts = new Map<string, number>();
  let retryTimer: NodeJS.Timeout | undefined;
  let approvalTimer: NodeJS.Timeout | undefined;
  let waitTimer: NodeJS.Timeout | undefined;
  let retryAt = 0;
  let running: Promise<void> | undefined;
  let current: string | null = null;
  let degraded: string | null = null;
  let waiting: { reason: string; since: number } | null = null;
  let lastImport: LastImport | null = null;
  let held: number | null = null;
  /** Approved holds queued by this daemon (see queueApprovals). */
  const takenHolds = new Set<number>();
  let stopping = false;
  const abort = new AbortController();

  const backoff = (key: string, error: unknown) => {
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const ceiling = backoffCeiling(attempt, config.daemon);
    const wait = Math.round(ceiling / 2 + (random() * ceiling) / 2); // "equal jitter": never 0, never in lockstep
    degraded =
      error instanceof UsersyncError ? `${error.code}: ${error.message}` : String(describeError(error).message);
    deps.metrics.transientFault(error instanceof UsersyncError ? error.code : 'UNEXPECTED');
    log.warn('file.retry_scheduled', { file: path.basename(key), attempt, waitMs: wait, err: describeError(error) });
    const at = Date.now() + wait;
    if (!retryTimer || at < retryAt) {
      clearTimeout(retryTimer);
      retryAt = at;
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        kick();
      }, wait);
    }
  };

  const backlog = () => deps.metrics.setBacklog(inboxQueue.size + claimedQueue.length);

  async function takeInboxFile(file: ReadyFile): Promise<Claimed | undefined> {
    const now = await lstat(file.path).catch(() => undefined);
    if (!now) return undefined; // gone: somebody took it back
    if (now.size !== file.size || now.mtimeMs !== file.mtimeMs) {
      deps.recheck(file.path); // changed while queued: wait for it to settle again
      return undefined;
    }
    const outcome = await claimFile(file.path, config.folders.processing, new Date());
    if ('refused' in outcome) deps.onRefused(outcome.refused);
    if (!('claimed' in outcome)) return undefined;
    log.info('file.claimed', { file: outcome.claimed.originalName, claimId: outcome.claimed.claimId });
    return { ...outcome.claimed, source: 'watch', changedImports: [] };
  }

  /** Waiting longer than watch.incompleteTimeoutMs for a writer makes /healthz degraded, naming it. */
  const onWaiting = (file: string) => (reason: string | null) => {
    if (reason !== null && waiting === null) log.info('file.waiting_for_writer', { file, reason });
    waiting = reason === null ? null : { reason, since: waiting?.since ?? Date.now() };
  };

  async function importClaimed(claimed: Claimed): Promise<void> {
    const started = Date.now();
    if (claimed.approval && !(await approvalStillHolds(claimed.approval.holdId))) return;
    // Only a crash or a hand can put anything else in processing/; it is never read either.
    const refusal = await checkClaimed(claimed.path);
    if (refusal) {
      const back = await returnToInbox(claimed.path, path.join(config.folders.inbox, claimed.originalName));
      deps.onRefused({ ...refusal, path: back });
      return;
    }
    const file = claimed.originalName;
    const request = claimedRequest(claimed, config);
    const claim = claimSteps(claimed, { config, db: deps.db, signal: abort.signal, onWaiting: onWaiting(file) });
    const result: ProcessResult = await processFile(deps, {
      ...request,
      actor: daemonActor(request.feed),
      signal: abort.signal,
      claim,
    }).finally(() => {
      waiting = null; // also when the file failed while it was still waited for
    });
    const { summary } = result;
    if (claimed.approval)
      await retireHeldReports(deps, claimed.approval.holdId, { outcome: summary.outcome, filePath: result.filePath });
    // A held file keeps its passwords on purpose (SPEC §9): it is redacted once decided.
    if (result.carriedPasswords && config.archive.redactPasswords && !result.redacted && summary.outcome !== 'held') {
      const reason = 'the file could not be read back to empty its Password column; the original was archived';
      log.warn('file.not_redacted', { file, importId: summary.importId, reason });
    }
    deps.metrics.fileFinished(summary.outcome, (Date.now() - started) / 1000);
    if (summary.outcome === 'held') {
      // A held file's counts are what it would have done: its rows are counted when it is applied.
      deps.metrics.guardsTripped((summary.guards ?? []).map((trip) => trip.guard));
      await refreshHeld();
    } else {
      deps.metrics.rows(summary.counts);
    }
    const { importId, outcome, counts, finishedAt } = summary;
    lastImport = { importId, file, outcome, finishedAt };
    const to = path.dirname(result.filePath);
    log.info('file.finished', { file, feed: summary.feed, importId, outcome, counts, to, redacted: result.redacted });
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      if (retryTimer || waitTimer) return; // a fault or an older file is being waited for; the timer restarts the loop
      const claimed = claimedQueue[0];
      if (claimed) {
        current = claimed.originalName;
        try {
          await importClaimed(claimed);
          claimedQueue.shift();
          attempts.delete(claimed.path);
          degraded = null;
        } catch (error) {
          if (stopping && error instanceof UsersyncError && error.code === 'IMPORT_INTERRUPTED') return;
          backoff(claimed.path, error); // stays in processing/, first in line
        } finally {
          current = null;
          backlog();
        }
        continue;
      }
      const next = [...inboxQueue.values()].sort((a, b) => a.mtimeMs - b.mtimeMs || a.path.localeCompare(b.path))[0];
      if (!next) return;
      // Oldest mtime first also across files still settling (several dropped at once, or present
      // at start): wait for an older one a little, but never more than a few stability periods.
      if (deps.oldestSettlingMtime() < next.mtimeMs && Date.now() - next.readyAt < config.watch.stableMs * 3 + 1000) {
        waitTimer = setTimeout(
          () => {
            waitTimer = undefined;
            kick();
          },
          Math.max(50, Math.min(500, config.watch.stableMs / 2)),
        );
        return;
      }
      try {
        const taken = await takeInboxFile(next);
        inboxQueue.delete(next.path);
        if (taken) claimedQueue.push(taken);
        attempts.delete(next.path);
      } catch (error) {
        backoff(next.path, error); // could not claim (permissions, disk): stays in the inbox
      }
      backlog();
    }
  }

  /**
   * The held imports waiting for a decision, for /metrics and /healthz: read after a file is held
   * and on every approval poll (a decision taken with `usersync holds` shows there within it).
   * Never throws: the file is finished whatever the count's fate.
   */
  async function refreshHeld(): Promise<void> {
    try {
      held = await countWaitingHolds(deps.db.knex);
      deps.metrics.setHeldImports(held);
    } catch (error) {
      log.warn('hold.count_failed', { err: describeError(error) });
    }
  }

  /**
   * Whether an approved hold queued earlier may be applied now (holds.ts approvalProblem): an
   * approval that can no longer be carried out is declined in its stead, with the reason; one
   * that was resolved meanwhile is simply dropped.
   */
  async function approvalStillHolds(holdId: number): Promise<boolean> {
    const hold = await getHold(deps.db.knex, holdId);
    if (!hold || hold.decision !== 'approved' || hold.resolvedBy !== null) return false;
    const problem = await approvalProblem(deps, hold);
    if (problem === undefined) return true;
    await voidApproval(deps, hold, DAEMON_ACTOR, problem);
    log.warn('hold.approval_not_carried_out', { importId: hold.id, file: hold.originalName, reason: problem });
    await refreshHeld();
    return false;
  }

  /**
   * Approved holds join the claimed files. A hold is taken once by this daemon: it stays in the
   * queue until its import closes, which links it to the hold. Looking in the queue is not enough:
   * a poll that read the register just before that import closed would find the hold gone from
   * the queue and queue it again, for a file no longer in held/ (retried for ever).
   */
  async function queueApprovals(): Promise<void> {
    const approved = await listApprovedHolds(deps.db.knex);
    let queued = 0;
    for (const hold of approved) {
      if (takenHolds.has(hold.id)) continue;
      takenHolds.add(hold.id);
      const claimed = await approvedClaim(deps.db, hold).catch((error: unknown) => {
        takenHolds.delete(hold.id); // the next poll tries again
        throw error;
      });
      claimedQueue.push(claimed);
      queued++;
      log.info('hold.approved_queued', { importId: hold.id, file: hold.originalName, by: hold.decidedBy });
    }
    if (queued > 0) {
      backlog();
      kick();
    }
  }

  function kick(): void {
    if (stopping || running) return;
    running = loop()
      .catch((error: unknown) => {
        log.error('daemon.loop_failed', { err: describeError(error) });
      })
      .finally(() => {
        running = undefined;
        if (!stopping && !retryTimer && !waitTimer && (claimedQueue.length > 0 || inboxQueue.size > 0)) kick();
      });
  }

  return {
    enqueue(file) {
      inboxQueue.set(file.path, { ...file, readyAt: Date.now() });
      backlog();
      kick();
    },
    async recover() {
      const found = await listClaimed(config.folders.processing);
      for (const item of found) {
        if (claimedQueue.some((c) => c.path === item.path)) continue;
        claimedQueue.push({ ...item, source: 'recover', changedImports: [] });
      }
      if (found.length > 0) log.warn('daemon.recovering', { files: found.map((f) => f.originalName) });
      backlog();
      return found.length;
    },
    kick,
    watchApprovals() {
      // Within watch.stableMs + 5 s of an approval (SPEC §9): a look every 2 s at most.
      const every = Math.max(250, Math.min(2000, config.watch.stableMs));
      const look = () => {
        approvalTimer = setTimeout(() => {
          queueApprovals()
            .catch((error: unknown) => log.warn('hold.poll_failed', { err: describeError(error) }))
            .then(refreshHeld)
            .finally(() => {
              if (!stopping) look();
            });
        }, every);
        approvalTimer.unref();
      };
      if (approvalTimer) return;
      void refreshHeld();
      look();
    },
    status: () => {
      const stuck = waiting !== null && Date.now() - waiting.since > config.watch.incompleteTimeoutMs;
      return {
        queued: inboxQueue.size + claimedQueue.length,
        processing: current,
        retrying: attempts.size,
        waiting: waiting?.reason ?? null,
        degraded: degraded ?? (stuck && waiting ? `${waiting.reason}, for ${minutesSince(waiting.since)} min` : null),
        lastImport,
        held,
      };
    },
    async stop() {
      stopping = true;
      clearTimeout(retryTimer);
      clearTimeout(approvalTimer);
      clearTimeout(waitTimer);
      abort.abort();
      await running;
    },
  };
}

const minutesSince = (since: number): number => Math.round((Date.now() - since) / 60_000);
