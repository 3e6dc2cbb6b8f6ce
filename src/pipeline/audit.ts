/**
 * The audit trail (SPEC §6): every event is a row in `audit_events` — written in the same
 * transaction as the change it describes — and, once that transaction has committed, a JSON line
 * in the audit log file. Passwords appear only as `{changed: true}`. Every event has its place in
 * the audit chain (domain/audit-chain.ts), on its row and on its line.
 */
import type { Knex } from 'knex';
import { changesJson, insertAuditEvents, type AuditEvent } from '../db/repositories/audit.js';
import type { Dialect } from '../db/knex.js';
import type { ChainedEvents } from '../db/statement-writer.js';
import type { AuditLog } from '../logging/audit-log.js';

export interface AuditTrail {
  /** Writes events in the given transaction (or connection), chained; call `committed` after it commits. */
  record(handle: Knex, events: readonly AuditEvent[]): Promise<void>;
  /** Appends committed events to the audit log file. */
  committed(events: readonly AuditEvent[]): void;
  /**
   * The events' audit log lines, held as one text until their transaction commits; then
   * `committedLines`. Lines of a transaction rolled back are simply dropped.
   */
  stage(events: readonly AuditEvent[]): StagedAuditLines;
  /** Appends staged lines once their transaction has committed, with their place in the chain. */
  committedLines(staged: StagedAuditLines): void;
  /** Both at once, for events that are their own transaction (import.started, import.finished). */
  write(handle: Knex, events: readonly AuditEvent[]): Promise<void>;
}

/**
 * Audit log lines of one batch, one after another (a batch's text is one string: large, it lives
 * outside the young generation instead of being copied through it as thousands of small strings
 * would be until the commit).
 */
export interface StagedAuditLines {
  readonly text: string;
  readonly count: number;
  /**
   * Where a writer thread put the events in the chain (it hashes them in its transaction): the
   * lines, staged before, get their seq and hash as they are written. Events written through
   * `record` carry theirs already.
   */
  chained?: ChainedEvents;
}

export function createAuditTrail(auditLog: AuditLog, target: { dialect: Dialect; maxInsertRows: number }): AuditTrail {
  const committed = (events: readonly AuditEvent[]) => auditLog.appendLines(events.map(auditLine));
  const record = (handle: Knex, events: readonly AuditEvent[]) => insertAuditEvents(handle, target, events);
  return {
    record,
    committed,
    stage: (events) => ({ text: events.map(auditLine).join('\n'), count: events.length }),
    committedLines({ text, count, chained }) {
      if (count === 0) return;
      const lines = text.split('\n');
      if (chained !== undefined)
        for (let i = 0; i < lines.length; i++)
          lines[i] = chainedLine(chained.first + i, chained.hashes.substring(i * 64, i * 64 + 64), lines[i] as string);
      auditLog.appendLines(lines);
    },
    write: async (handle, events) => {
      await record(handle, events);
      committed(events);
    },
  };
}

/**
 * The audit log line of an event: JSON of {seq, hash, action, at, importId, row, username, actor,
 * changes} (seq and hash once it is chained), reusing the database's JSON of `changes`. An
 * import's events share one actor, so its JSON is kept.
 */
export function auditLine(e: AuditEvent): string {
  const text = (value: string | number | null) => JSON.stringify(value ?? null);
  const line = `{"action":${text(e.action)},"at":${text(e.at)},"importId":${text(e.importId)},"row":${text(e.row)},"username":${text(e.username)},"actor":${actorJson(e.actor)},"changes":${changesJson(e) ?? 'null'}}`;
  return e.seq === undefined || e.hash === undefined ? line : chainedLine(e.seq, e.hash, line);
}

/** A line with its place in the chain first. */
const chainedLine = (seq: number, hash: string, line: string): string =>
  `{"seq":${seq},"hash":"${hash}",${line.slice(1)}`;

let lastActor: string | null = null;
let lastActorJson = 'null';
const actorJson = (actor: string | null): string => {
  if (actor !== lastActor) {
    lastActor = actor;
    lastActorJson = JSON.stringify(actor);
  }
  return lastActorJson;
};
