/**
 * The audit trail (SPEC §6): every event is a row in `audit_events` — written in the same
 * transaction as the change it describes — and, once that transaction has committed, a JSON line
 * in the audit log file. Passwords appear only as `{changed: true}`.
 */
import type { Knex } from 'knex';
import { insertAuditEvents, type AuditEvent } from '../db/repositories/audit.js';
import type { Dialect } from '../db/knex.js';
import type { AuditLog } from '../logging/audit-log.js';

export interface AuditTrail {
  /** Writes events in the given transaction (or connection); call `committed` after it commits. */
  record(handle: Knex, events: readonly AuditEvent[]): Promise<void>;
  /** Appends committed events to the audit log file. */
  committed(events: readonly AuditEvent[]): void;
  /** Both at once, for events that are their own transaction (import.started, import.finished). */
  write(handle: Knex, events: readonly AuditEvent[]): Promise<void>;
}

export function createAuditTrail(auditLog: AuditLog, target: { dialect: Dialect; maxInsertRows: number }): AuditTrail {
  const committed = (events: readonly AuditEvent[]) =>
    auditLog.append(events.map((e) => ({ action: e.action, at: e.at, importId: e.importId, row: e.row, username: e.username, changes: e.changes })));
  const record = (handle: Knex, events: readonly AuditEvent[]) => insertAuditEvents(handle, target, events);
  return {
    record,
    committed,
    write: async (handle, events) => {
      await record(handle, events);
      committed(events);
    },
  };
}
