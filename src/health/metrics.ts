/**
 * Prometheus metrics (SPEC §2), names prefixed `usersync_`, on a registry of our own (never the
 * global one, so tests and several daemons in one process do not collide).
 */
import client from 'prom-client';
import { GUARD_NAMES } from '../domain/guards.js';

/**
 * The outcomes `usersync_rows_total` is labelled with. Each row has exactly one, so the series sum
 * to the total: a report's `rows` count is never a label (summing would count every row twice).
 * `deactivated` counts users a mirror feed deactivated for being left out of a file (SPEC §8):
 * they are no row of it, so the other four still sum to the rows processed.
 */
const ROW_OUTCOMES = ['created', 'updated', 'unchanged', 'failed', 'deactivated'] as const;

export interface Metrics {
  readonly registry: client.Registry;
  fileFinished(outcome: string, seconds: number): void;
  /** Adds a finished file's row counts; other keys of `counts` (a report's `rows` total) are ignored. */
  rows(counts: Record<(typeof ROW_OUTCOMES)[number], number>): void;
  setBacklog(files: number): void;
  transientFault(kind: string): void;
  /** An inbox entry refused (a link, a FIFO, …), counted once per entry. */
  refused(kind: string): void;
  /** How many refused entries are in the inbox now. */
  setRefusedPresent(entries: number): void;
  /** A file held for approval (SPEC §9): each guard that holds it, counted once. */
  guardsTripped(guards: readonly string[]): void;
  /** How many held imports wait for a decision now (read from the register). */
  setHeldImports(holds: number): void;
  /** A try at sending a queued message (SPEC §11): sent, retry (queued again) or failed (refused for good). */
  notification(status: 'sent' | 'retry' | 'failed'): void;
  setNotificationQueue(length: number): void;
  /** Users delivered to a SCIM target (SPEC §12), by result: delivered, unchanged, parked, retry (a transient fault). */
  targetDeliveries(target: string, result: TargetResult, count: number): void;
  /** User changes waiting for a target: events after its cursor and users to retry. */
  setTargetQueue(target: string, length: number): void;
}

export const TARGET_RESULTS = ['delivered', 'unchanged', 'parked', 'retry'] as const;
export type TargetResult = (typeof TARGET_RESULTS)[number];

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'usersync_' });
  const files = new client.Counter({
    name: 'usersync_files_total',
    help: 'Files processed, by outcome (imported, imported_with_errors, rejected, held).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const rows = new client.Counter({
    name: 'usersync_rows_total',
    help: 'Data rows processed, by outcome (created, updated, unchanged, failed), and users a mirror feed deactivated for absence (deactivated).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'usersync_import_duration_seconds',
    help: 'Time from claiming a file to its finish, in seconds.',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const lastSuccess = new client.Gauge({
    name: 'usersync_last_success_timestamp_seconds',
    help: 'When a file was last imported with every row applied (Unix time).',
    registers: [registry],
  });
  const backlog = new client.Gauge({
    name: 'usersync_inbox_backlog',
    help: 'Files waiting: ready in the inbox and queued, plus claimed and not yet finished.',
    registers: [registry],
  });
  const faults = new client.Counter({
    name: 'usersync_transient_faults_total',
    help: 'Transient faults (database unreachable, busy, disk) that made a file wait for a retry.',
    labelNames: ['code'],
    registers: [registry],
  });
  const refused = new client.Counter({
    name: 'usersync_refused_files_total',
    help: 'Inbox entries refused and never read: symbolic links, hard links, FIFOs, devices and sockets, by kind.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const refusedPresent = new client.Gauge({
    name: 'usersync_refused_files',
    help: 'Refused entries still in the inbox (listed in /healthz).',
    registers: [registry],
  });
  const guardTrips = new client.Counter({
    name: 'usersync_guard_trips_total',
    help: 'Guards tripped by files held for approval (SPEC §9), by guard; a file held by two guards counts once for each.',
    labelNames: ['guard'],
    registers: [registry],
  });
  const heldImports = new client.Gauge({
    name: 'usersync_held_imports',
    help: 'Imports held for approval and waiting for a decision (usersync holds list).',
    registers: [registry],
  });
  for (const outcome of ['imported', 'imported_with_errors', 'rejected', 'held']) files.inc({ outcome }, 0);
  // Every guard's series exists from the start, so that rate() and alerts see the first trip.
  for (const guard of GUARD_NAMES) guardTrips.inc({ guard }, 0);
  const notifications = new client.Counter({
    name: 'usersync_notifications_total',
    help: 'Tries at sending a queued e-mail, by status: sent, retry (queued again), failed (refused for good).',
    labelNames: ['status'],
    registers: [registry],
  });
  const notificationQueue = new client.Gauge({
    name: 'usersync_notification_queue',
    help: 'E-mail messages queued and not yet sent.',
    registers: [registry],
  });
  for (const status of ['sent', 'retry', 'failed']) notifications.inc({ status }, 0);
  const targetDeliveries = new client.Counter({
    name: 'usersync_target_deliveries_total',
    help: 'Users delivered to a SCIM target, by result: delivered, unchanged, parked (refused), retry (a transient fault).',
    labelNames: ['target', 'result'],
    registers: [registry],
  });
  const targetQueue = new client.Gauge({
    name: 'usersync_target_queue',
    help: 'User changes queued for a SCIM target and not yet delivered.',
    labelNames: ['target'],
    registers: [registry],
  });
  const seenTargets = new Set<string>();
  // A target's series exist from its first mention, so that rate() and alerts see the first parked user.
  const touch = (target: string) => {
    if (seenTargets.has(target)) return;
    seenTargets.add(target);
    for (const result of TARGET_RESULTS) targetDeliveries.inc({ target, result }, 0);
  };
  for (const outcome of ROW_OUTCOMES) rows.inc({ outcome }, 0);
  return {
    registry,
    fileFinished(outcome, seconds) {
      files.inc({ outcome });
      duration.observe(seconds);
      if (outcome === 'imported') lastSuccess.set(Date.now() / 1000);
    },
    rows(counts) {
      for (const outcome of ROW_OUTCOMES) rows.inc({ outcome }, counts[outcome]);
    },
    setBacklog: (n) => backlog.set(n),
    transientFault: (code) => faults.inc({ code }),
    refused: (kind) => refused.inc({ kind }),
    setRefusedPresent: (n) => refusedPresent.set(n),
    guardsTripped(guards) {
      for (const guard of guards) guardTrips.inc({ guard });
    },
    setHeldImports: (n) => heldImports.set(n),
    notification: (status) => notifications.inc({ status }),
    setNotificationQueue: (n) => notificationQueue.set(n),
    targetDeliveries(target, result, count) {
      touch(target);
      targetDeliveries.inc({ target, result }, count);
    },
    setTargetQueue(target, length) {
      touch(target);
      targetQueue.set({ target }, length);
    },
  };
}
