/**
 * The audit trail in the database (SPEC §6). Events are written in the same transaction as the
 * change they describe; reading them back is paged, oldest first.
 */
import type { Knex } from 'knex';
import { eventHash, type ChainedFields } from '../../domain/audit-chain.js';
import { bulkInsert, bulkStatements, type BoundStatement, type BulkInsert } from '../bulk.js';
import type { Dialect } from '../knex.js';
import { lockChainHead, moveChainHead } from './audit-chain.js';

export type AuditAction =
  | 'user.created'
  | 'user.updated'
  | 'user.deactivated'
  | 'department.created'
  | 'group.created'
  | 'role.created'
  | 'role.removed'
  | 'group.removed'
  | 'import.started'
  | 'import.finished'
  | 'import.rejected'
  | 'import.interrupted'
  | 'import.held'
  | 'import.guards_allowed'
  | 'import.approved'
  | 'import.declined'
  | 'target.retried'
  | 'target.synced';

/** `{field: {old, new}}` for users (`password: {changed: true}`), free-form for import events. */
export type AuditChanges = Record<string, unknown>;

/** Changes already serialised as JSON, for records built as text (created users: domain/merge.ts). */
export class SerializedChanges {
  constructor(readonly json: string) {}
  toJSON(): unknown {
    return JSON.parse(this.json);
  }
}

export interface AuditEvent {
  at: string;
  importId: number | null;
  row: number | null;
  username: string | null;
  action: AuditAction;
  changes: AuditChanges | SerializedChanges | null;
  /** Who made the change (app/actor.ts); null only on events stored before actors were recorded. */
  actor: string | null;
  /** Its place in the audit chain and its hash (domain/audit-chain.ts), once written. */
  seq?: number;
  hash?: string;
}

export interface StoredAuditEvent extends AuditEvent {
  id: number;
  changes: AuditChanges | null;
}

/**
 * Appends events to the chain: the head is locked (the transaction's, or one of its own), each
 * event hashed after the one before, the events written, the head moved. Each event then carries
 * its `seq` and `hash`, for the audit log line.
 */
export async function insertAuditEvents(
  knex: Knex,
  target: { dialect: Dialect; maxInsertRows: number },
  events: readonly AuditEvent[],
): Promise<void> {
  if (events.length === 0) return;
  const append = async (trx: Knex) => {
    let head = await lockChainHead(trx, target.dialect);
    const rows = events.map((event) => {
      const fields = fieldsOf(event);
      const seq = head.seq + 1;
      const hash = eventHash(seq, head.hash, fields);
      const row = [...fields, seq, head.hash, hash];
      (event as { seq?: number }).seq = seq;
      (event as { hash?: string }).hash = hash;
      head = { seq, hash };
      return row;
    });
    await bulkInsert(trx, target.dialect, target.maxInsertRows, { ...auditInsert(), rows });
    await moveChainHead(trx, head);
  };
  await (knex.isTransaction ? append(knex) : knex.transaction(append));
}

/**
 * `insertAuditEvents` as statements, for a writer thread that runs them itself: their rows end in
 * seq, prev_hash and hash left empty, which the thread fills from the chain's head it locks in its
 * transaction (`chained`, db/statement-writer.ts).
 */
export function auditEventStatements(
  target: { dialect: Dialect; maxInsertRows: number },
  events: readonly AuditEvent[],
): BoundStatement[] {
  const rows = events.map((e) => [...fieldsOf(e), null, null, null]);
  return bulkStatements(target.dialect, target.maxInsertRows, { ...auditInsert(), rows }).map((statement) => ({
    ...statement,
    chained: true,
  }));
}

const auditInsert = (): Omit<BulkInsert, 'rows'> => ({
  table: 'audit_events',
  columns: ['at', 'import_id', 'row', 'username', 'action', 'changes', 'actor', 'seq', 'prev_hash', 'hash'],
});

/** The fields the chain hashes, as stored. One import's events share one actor string: the writer thread sends it once per statement (encodeStatements). */
const fieldsOf = (e: AuditEvent): ChainedFields => [
  e.at,
  e.importId,
  e.row,
  e.username,
  e.action,
  changesJson(e),
  e.actor,
];

const CHANGES_JSON = Symbol('changesJson');

/**
 * The event's `changes` as JSON, serialised once: the database row and then the audit log line
 * both need it (twice was ~0.25 s of a 100k-row first load). Events are not changed once made.
 */
export function changesJson(event: AuditEvent): string | null {
  const cached = event as AuditEvent & { [CHANGES_JSON]?: string | null };
  if (event.changes instanceof SerializedChanges) return event.changes.json;
  return (cached[CHANGES_JSON] ??= event.changes === null ? null : JSON.stringify(event.changes));
}

export interface AuditQuery {
  username?: string | undefined;
  importId?: number | undefined;
  /** ISO time; events at or after it. */
  since?: string | undefined;
  /** Only the newest this many matching events (still read oldest first), as `git log -n` does. */
  limit?: number | undefined;
}

interface AuditRow {
  id: number | string;
  at: string;
  import_id: number | string | null;
  row: number | null;
  username: string | null;
  action: AuditAction;
  changes: string | null;
  actor: string | null;
  seq: number | string | null;
  hash: string | null;
}

/** Matching events, oldest first, paged by id; with `limit`, the newest `limit` of them. */
export async function* queryAuditEvents(knex: Knex, filter: AuditQuery): AsyncGenerator<StoredAuditEvent> {
  const matching = () => {
    const query = knex('audit_events');
    if (filter.username !== undefined) query.where('username', filter.username);
    if (filter.importId !== undefined) query.where('import_id', filter.importId);
    if (filter.since !== undefined) query.where('at', '>=', filter.since);
    return query;
  };
  let afterId = 0;
  let throughId = Number.POSITIVE_INFINITY;
  let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
  if (filter.limit !== undefined) {
    // Two index look-ups bound the newest `limit` matches (the newest, and the limit-th newest)
    // without reading them all; events committed meanwhile fall outside the bounds.
    const idAt = async (offset: number) =>
      ((await matching().orderBy('id', 'desc').offset(offset).first('id')) as { id: number | string } | undefined)?.id;
    const newest = await idAt(0);
    if (newest === undefined || filter.limit < 1) return;
    throughId = Number(newest);
    const oldest = await idAt(filter.limit - 1);
    if (oldest !== undefined) afterId = Number(oldest) - 1;
  }
  while (remaining > 0) {
    const query = matching().where('id', '>', afterId).orderBy('id').limit(Math.min(1000, remaining));
    if (throughId !== Number.POSITIVE_INFINITY) query.where('id', '<=', throughId);
    const rows = (await query) as AuditRow[];
    for (const row of rows) {
      yield {
        id: Number(row.id),
        at: row.at,
        importId: row.import_id === null ? null : Number(row.import_id),
        row: row.row === null ? null : Number(row.row),
        username: row.username,
        action: row.action,
        changes: row.changes === null ? null : (JSON.parse(row.changes) as AuditChanges),
        actor: row.actor,
        ...(row.seq === null ? {} : { seq: Number(row.seq) }),
        ...(row.hash === null ? {} : { hash: row.hash }),
      };
    }
    remaining -= rows.length;
    if (rows.length < 1000) return;
    afterId = Number(rows[rows.length - 1]?.id);
  }
}
