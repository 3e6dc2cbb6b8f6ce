/**
 * The audit trail (SPEC §6): every event is a row in `audit_events` — written in the same
 * transaction as the change it describes — and, once that transaction has committed, a JSON line
 * in the audit log file. Passwords appear only as `{changed: true}`.
 */
import type { Knex } from 'knex';
import { changesJson, insertAuditEvents, type AuditEvent } from '../db/repositories/audit.js';
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
  const committed = (events: readonly AuditEvent[]) => auditLog.appendLines(events.map(auditLine));
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

/** The audit log line of an event: JSON of {action, at, importId, row, username, changes}, reusing the database's JSON of `changes`. */
export function auditLine(e: AuditEvent): string {
  const text = (value: string | number | null) => JSON.stringify(value ?? null);
  return `{"action":${text(e.action)},"at":${text(e.at)},"importId":${text(e.importId)},"row":${text(e.row)},"username":${text(e.username)},"changes":${changesJson(e) ?? 'null'}}`;
}
