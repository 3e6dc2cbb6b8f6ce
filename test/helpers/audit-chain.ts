/**
 * Chained audit trails built directly with knex (SPEC §10), for tests of `usersync audit verify`
 * that must not depend on how the writers fill the chain: events appended after the head in
 * `audit_chain`, each hashed with domain/audit-chain.ts, and the head moved in the same
 * transaction; and the audit.log lines of a trail, in the log's format with `seq` and `hash` first.
 */
import type { Knex } from 'knex';
import { EMPTY_CHAIN, GENESIS_HASH, eventHash, type ChainHead } from '../../src/domain/audit-chain.js';

export interface TrailEvent {
  at: string;
  importId: number | null;
  row: number | null;
  username: string | null;
  action: string;
  /** The JSON text stored in the column. */
  changes: string | null;
  actor: string | null;
}

/** The `i`-th event of a made-up trail: a user update, with a password change now and then. */
export function sampleEvent(i: number): TrailEvent {
  return {
    at: new Date(Date.UTC(2026, 10, 1, 8, 0, i)).toISOString(),
    importId: 1 + Math.floor(i / 5),
    row: 2 + i,
    username: `user${i}`,
    action: i % 3 === 0 ? 'user.created' : 'user.updated',
    changes: JSON.stringify(
      i % 4 === 0
        ? { password: { changed: true }, name: { old: null, new: `Üser ${i}` } }
        : { department: { old: 'HR', new: `Dept "${i}"` }, groups: { old: [], new: ['IT', 'Sales'] } },
    ),
    actor: 'auditor@host',
  };
}

const columns = (e: TrailEvent) => ({
  at: e.at,
  import_id: e.importId,
  row: e.row,
  username: e.username,
  action: e.action,
  changes: e.changes,
  actor: e.actor,
});

/** Appends `events` to the chain after its head, and moves the head; returns the new head. */
export async function appendChained(knex: Knex, events: readonly TrailEvent[]): Promise<ChainHead> {
  return knex.transaction(async (trx) => {
    const stored = (await trx('audit_chain').where('id', 1).forUpdate().first('seq', 'hash')) as
      { seq: number | string; hash: string } | undefined;
    let head: ChainHead = stored ? { seq: Number(stored.seq), hash: stored.hash } : EMPTY_CHAIN;
    const rows = events.map((e) => {
      const seq = head.seq + 1;
      const hash = eventHash(seq, head.hash, [e.at, e.importId, e.row, e.username, e.action, e.changes, e.actor]);
      const row = { ...columns(e), seq, prev_hash: head.hash, hash };
      head = { seq, hash };
      return row;
    });
    for (let i = 0; i < rows.length; i += 200) await trx('audit_events').insert(rows.slice(i, i + 200));
    await trx('audit_chain').where('id', 1).update(head);
    return head;
  });
}

/** Empties the trail and resets the head to the empty chain. */
export async function resetTrail(knex: Knex): Promise<void> {
  await knex('audit_events').delete();
  await knex('audit_chain').where('id', 1).update({ seq: 0, hash: GENESIS_HASH });
}

export interface StoredChainRow extends TrailEvent {
  id: number;
  seq: number | null;
  prevHash: string | null;
  hash: string | null;
}

/** Every event as stored, in id order. */
export async function storedEvents(knex: Knex): Promise<StoredChainRow[]> {
  const rows = (await knex('audit_events').orderBy('id')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: Number(r.id),
    seq: r.seq === null ? null : Number(r.seq),
    prevHash: r.prev_hash as string | null,
    hash: r.hash as string | null,
    at: r.at as string,
    importId: r.import_id === null ? null : Number(r.import_id),
    row: r.row === null ? null : Number(r.row),
    username: r.username as string | null,
    action: r.action as string,
    changes: r.changes as string | null,
    actor: r.actor as string | null,
  }));
}

/** The audit.log line of a stored event: `seq` and `hash` first, then the fields, `changes` as its stored text. */
export function auditLogLine(e: StoredChainRow): string {
  const text = (value: unknown) => JSON.stringify(value ?? null);
  return `{"seq":${e.seq},"hash":${text(e.hash)},"action":${text(e.action)},"at":${text(e.at)},"importId":${text(e.importId)},"row":${text(e.row)},"username":${text(e.username)},"actor":${text(e.actor)},"changes":${e.changes ?? 'null'}}`;
}
