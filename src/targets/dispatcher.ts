/**
 * The daemon's provisioning loop (SPEC §12), one per enabled target: it takes the users whose
 * events follow the target's cursor (at most WINDOW events at a time) and those an operator asked
 * to retry, delivers them (deliver.ts), and moves the cursor past the window once each is
 * delivered or parked. A transient fault leaves the cursor where it is and waits — capped
 * exponential backoff with jitter, or the target's Retry-After when longer — so a target that is
 * down for days only lengthens its queue. It reads the database and talks HTTP beside the import
 * loop; an import never waits for it.
 *
 * A lease in target_state makes one process deliver to a target at a time; another daemon on the
 * same database waits for it to lapse.
 */
import { hostname } from 'node:os';
import type { Knex } from 'knex';
import { backoffCeiling } from '../app/backoff.js';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/knex.js';
import {
  claimLease,
  moveCursor,
  pendingUsers,
  queueCounts,
  recordTargetError,
  releaseLease,
  peekTargetState,
  usersToRetry,
  type PendingUser,
} from '../db/repositories/targets.js';
import { describeError } from '../errors.js';
import type { TargetResult } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import type { TargetConfig } from '../config/targets-schema.js';
import { deliverUsers } from './deliver.js';
import { createTargetRuntime } from './runtime.js';
import { createScimClient } from './scim/client.js';

export interface TargetMetrics {
  targetDeliveries(target: string, result: TargetResult, count: number): void;
  setTargetQueue(target: string, length: number): void;
}

export interface TargetHealth {
  name: string;
  queued: number;
  parked: number;
  oldestQueuedAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
}

export interface TargetsDispatcher {
  start(): void;
  stop(): Promise<void>;
  status(): { targets: TargetHealth[]; stuck: string | null };
}

/** Events looked at per delivery round. */
export const WINDOW = 2000;
const IDLE_MS = 1000;
/** Queue counts for /healthz and /metrics are read at most this often while a backlog drains. */
const REFRESH_MS = 5000;
/** How long a gap in the audit chain's seq is waited for before delivery goes past it. */
const GAP_WAIT_MS = 30_000;
const LEASE_MS = 60_000;
/** A queue that delivers nothing for this long makes /healthz degraded. */
const STUCK_MS = 60 * 60_000;

export function createTargetsDispatcher(deps: {
  config: Readonly<Config>;
  db: Database;
  logger: Logger;
  metrics: TargetMetrics;
  /** True while the daemon imports a file: on SQLite the dispatcher then does not write (below). */
  importing?: () => boolean;
}): TargetsDispatcher {
  const { db, metrics } = deps;
  const knex = db.knex;
  const log = deps.logger.child({ module: 'targets' });
  const owner = `${hostname()}:${process.pid}`;
  const enabled = deps.config.targets.filter((t) => t.enabled);
  const health = new Map<string, TargetHealth>();
  let stopping = false;
  const stopper = new AbortController();
  const startedAt = Date.now();
  const wakers = new Set<() => void>();
  const loops: Array<Promise<void>> = [];

  /** Waits `ms`, or less when the dispatcher stops. */
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      wakers.add(done);
    });

  /**
   * On SQLite, waits while the daemon imports. The import's writer thread holds the one write lock
   * between its batches, and a write from this thread would block the whole event loop (health,
   * schedules, the import itself) for up to the busy timeout (PITFALLS §4.10). Delivery resumes
   * the moment the file is done; on MySQL/MariaDB both go on together.
   */
  const quiet = async () => {
    if (db.dialect !== 'sqlite' || !deps.importing) return;
    while (!stopping && deps.importing()) await sleep(250);
  };
  const lastRefresh = new Map<string, number>();
  const refusing = new Map<string, string>();

  /** The queue's counts for /healthz and /metrics: at most every few seconds while a backlog drains. */
  async function refreshHealth(target: TargetConfig, cursorSeq: number, force = false): Promise<void> {
    if (!force && Date.now() - (lastRefresh.get(target.name) ?? 0) < REFRESH_MS) return;
    lastRefresh.set(target.name, Date.now());
    const state = await peekTargetState(knex, target.name);
    const counts = await queueCounts(knex, target.name, cursorSeq);
    metrics.setTargetQueue(target.name, counts.queued);
    health.set(target.name, {
      name: target.name,
      ...counts,
      lastSuccessAt: state.lastSuccessAt,
      lastError: state.lastError,
    });
  }

  async function loop(target: TargetConfig): Promise<void> {
    const runtime = createTargetRuntime(knex, target, createScimClient(target, { stop: stopper.signal }));
    const lease = leaseOf(knex, target.name, owner);
    const gaps = gapWatch(log);
    let failures = 0;
    health.set(target.name, {
      name: target.name,
      queued: 0,
      parked: 0,
      oldestQueuedAt: null,
      lastSuccessAt: null,
      lastError: null,
    });
    while (!stopping) {
      try {
        await quiet();
        const now = new Date();
        if (!(await lease.hold(now))) {
          await sleep(LEASE_MS / 4);
          continue;
        }
        const state = await peekTargetState(knex, target.name);
        const window = await pendingUsers(knex, state.cursorSeq, WINDOW, gaps.passable(state.cursorSeq, target.name));
        gaps.saw(window.gapAfter);
        const users = withRetries(window.users, await usersToRetry(knex, target.name, WINDOW));
        if (users.length === 0) {
          if (window.lastSeq !== null)
            await moveCursor(knex, target.name, owner, {
              cursorSeq: window.lastSeq,
              delivered: 0,
              at: now.toISOString(),
            });
          await refreshHealth(target, window.lastSeq ?? state.cursorSeq, window.lastSeq === null);
          if (window.lastSeq === null) await sleep(IDLE_MS);
          continue;
        }
        // A round can outlast half a lease (a slow target): the lease is renewed while it runs.
        const renewal = setInterval(() => {
          if (db.dialect !== 'sqlite' || !deps.importing?.()) void lease.hold(new Date()).catch(() => undefined);
        }, LEASE_MS / 3);
        let result;
        try {
          result = await deliverUsers(knex, runtime, users, () => new Date().toISOString(), quiet);
        } finally {
          clearInterval(renewal);
        }
        metrics.targetDeliveries(target.name, 'delivered', result.delivered);
        metrics.targetDeliveries(target.name, 'unchanged', result.unchanged);
        metrics.targetDeliveries(target.name, 'parked', result.parked);
        if (result.parked > 0)
          log.warn('target.parked', { target: target.name, users: result.parked, error: result.refusal });
        // A target that refuses every user (a missing scope, a licence run out) parks them all and
        // moves on; /healthz says so rather than stay green while nothing arrives.
        if (result.parked > 0 && result.delivered + result.unchanged === 0)
          refusing.set(target.name, `refused all ${result.parked} users of its last round (${result.refusal ?? ''})`);
        else if (result.delivered + result.unchanged > 0) refusing.delete(target.name);
        if (result.fault) {
          failures++;
          const waitMs = retryWait(target, failures, result.fault.retryAfterMs);
          metrics.targetDeliveries(target.name, 'retry', 1);
          await quiet();
          await recordTargetError(knex, target.name, result.fault.message, new Date().toISOString());
          log.warn('target.retry', {
            target: target.name,
            attempt: failures,
            waitMs,
            status: result.fault.status,
            error: result.fault.message,
            delivered: result.delivered,
          });
          await refreshHealth(target, state.cursorSeq, true);
          await sleep(waitMs);
          continue;
        }
        failures = 0;
        await quiet();
        const moved = await moveCursor(knex, target.name, owner, {
          ...(window.lastSeq === null ? {} : { cursorSeq: window.lastSeq }),
          delivered: result.delivered,
          at: new Date().toISOString(),
        });
        // Lost the lease mid-round (paused by a sync, or taken by another process): it goes on from its cursor.
        if (!moved) lease.drop();
        log.info('target.delivered', {
          target: target.name,
          delivered: result.delivered,
          unchanged: result.unchanged,
          parked: result.parked,
          cursor: window.lastSeq ?? state.cursorSeq,
          ...(moved ? {} : { leaseLost: true }),
        });
        await refreshHealth(target, window.lastSeq ?? state.cursorSeq);
      } catch (error) {
        // The database, most likely: the queue is safe in it; try again after the backoff.
        failures++;
        const waitMs = retryWait(target, failures, undefined);
        log.warn('target.pass_failed', { target: target.name, waitMs, err: describeError(error) });
        await sleep(waitMs);
      }
    }
    await releaseLease(knex, target.name, owner).catch(() => undefined);
  }

  return {
    start() {
      for (const target of enabled) {
        if (plainHttpElsewhere(target.url))
          log.warn('target.unencrypted', {
            target: target.name,
            url: target.url,
            hint: 'user data and the token travel unencrypted: use https:// for a target on another machine',
          });
        loops.push(loop(target));
      }
      if (enabled.length > 0) log.info('targets.started', { targets: enabled.map((t) => `${t.name} ${t.url}`) });
    },
    async stop() {
      stopping = true;
      stopper.abort();
      for (const wake of [...wakers]) wake();
      await Promise.all(loops);
    },
    status() {
      const targets = [...health.values()];
      // Stuck: changes wait and nothing has been delivered for an hour (a new target's long first
      // load, which delivers all along, is not stuck however old its oldest change).
      const stuck = targets
        .map((t) => {
          const progress = Math.max(startedAt, t.lastSuccessAt === null ? 0 : Date.parse(t.lastSuccessAt));
          const idle = Date.now() - progress;
          if (idle <= STUCK_MS || t.queued === 0) return null;
          return `target ${t.name}: ${t.queued} queued, nothing delivered for ${Math.round(idle / 60_000)} min${t.lastError ? ` (${t.lastError})` : ''}`;
        })
        .filter((s): s is string => s !== null);
      for (const [name, why] of refusing) stuck.push(`target ${name}: ${why}`);
      return { targets, stuck: stuck.length === 0 ? null : stuck.join('; ') };
    },
  };
}

/**
 * The right to deliver to a target, renewed when half of it has run out (not at every round: on
 * SQLite each renewal is a write). A lease whose owner was a process of this machine that no
 * longer runs (a crash, a kill -9) is taken over at once instead of after it lapses; a pause a
 * `targets sync` asked for makes it let go.
 */
function leaseOf(knex: Knex, target: string, owner: string) {
  let until = 0;
  return {
    async hold(now: Date): Promise<boolean> {
      const iso = now.toISOString();
      const state = await peekTargetState(knex, target);
      // A `targets sync` asked for the target: the lease is let go until it is done.
      if (state.pausedBy !== null && state.pausedBy !== owner && (state.pausedUntil ?? '') > iso) {
        if (state.leaseOwner === owner) await releaseLease(knex, target, owner);
        until = 0;
        return false;
      }
      if (state.leaseOwner === owner && now.getTime() < until - LEASE_MS / 2) return true;
      const next = new Date(now.getTime() + LEASE_MS);
      let held = await claimLease(knex, target, owner, iso, next.toISOString());
      if (!held && state.leaseOwner !== null && deadLocalProcess(state.leaseOwner))
        held = await claimLease(knex, target, owner, iso, next.toISOString(), state.leaseOwner);
      until = held ? next.getTime() : 0;
      return held;
    },
    drop() {
      until = 0;
    },
  };
}

/** `host:pid` of a process of this machine that has exited. */
function deadLocalProcess(holder: string): boolean {
  const at = holder.lastIndexOf(':');
  const pid = Number(holder.slice(at + 1));
  if (holder.slice(0, at) !== hostname() || !Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * A gap in the audit chain's seq is a transaction not yet visible, filled within moments. One that
 * stays (events deleted by hand: `audit verify` names them) must not stop provisioning for good:
 * after GAP_WAIT_MS it is passed, with a warning.
 */
function gapWatch(log: Logger) {
  let gap: { after: number; since: number } | null = null;
  return {
    passable(cursor: number, target: string): boolean {
      if (gap === null || gap.after !== cursor || Date.now() - gap.since <= GAP_WAIT_MS) return false;
      log.warn('target.audit_gap', {
        target,
        after: cursor,
        hint: 'events are missing from the audit trail: delivery goes on past them; run usersync audit verify',
      });
      return true;
    },
    saw(after: number | null) {
      if (after === null) gap = null;
      else if (gap?.after !== after) gap = { after, since: Date.now() };
    },
  };
}

/** http:// to another machine: a loopback target (a local proxy, a test) is left alone. */
function plainHttpElsewhere(url: string): boolean {
  try {
    const { protocol, hostname: host } = new URL(url);
    return protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(host);
  } catch {
    return false;
  }
}

/** The window's users, then those to retry that the window does not have. */
function withRetries(window: PendingUser[], retries: PendingUser[]): PendingUser[] {
  if (retries.length === 0) return window;
  const seen = new Set(window.map((u) => u.username));
  return [...window, ...retries.filter((u) => !seen.has(u.username))];
}

/** Capped exponential backoff with jitter (half to all of the ceiling); a longer Retry-After wins. */
export function retryWait(
  target: Pick<TargetConfig, 'retryInitialMs' | 'retryMaxMs'>,
  attempt: number,
  retryAfterMs?: number,
): number {
  const ceiling = backoffCeiling(attempt, target);
  const jittered = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  return Math.max(jittered, retryAfterMs ?? 0);
}
