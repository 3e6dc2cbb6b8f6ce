/**
 * The audit chain of SPEC §10 (domain/audit-chain.ts): `seq`, `prev_hash` and `hash` on every
 * audit event, and `audit_chain`, one row holding the chain's head, which every writer of events
 * locks first, so two writers (two processes on one MariaDB) take turns and never fork the chain.
 *
 * Events already there are chained in id order (the order they were written), in pages, so a
 * large trail migrates in bounded memory. `seq` is unique: a second event at one place in the
 * chain cannot be written, whatever the code around it does.
 */
import type { Knex } from 'knex';
import { EMPTY_CHAIN, eventHash, type ChainHead } from '../../domain/audit-chain.js';

const PAGE = 400;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.bigInteger('seq').unsigned().nullable().comment('place in the audit chain: 1, 2, 3… without gaps');
    t.string('prev_hash', 64).nullable().comment('hash of the event at seq - 1 (64 zeros for the first)');
    t.string('hash', 64).nullable().comment('SHA-256 of the canonical encoding (docs/audit-chain.md)');
    t.unique(['seq'], { indexName: 'audit_events_seq_unique' });
  });
  await knex.schema.createTable('audit_chain', (t) => {
    t.integer('id').primary().comment('always 1: the one head of the chain');
    t.bigInteger('seq').unsigned().notNullable().comment('seq of the last event, 0 for none');
    t.string('hash', 64).notNullable().comment('hash of the last event, 64 zeros for none');
  });
  let head: ChainHead = EMPTY_CHAIN;
  for (let afterId = 0; ;) {
    const rows = (await knex('audit_events')
      .select('id', 'at', 'import_id', 'row', 'username', 'action', 'changes', 'actor')
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(PAGE)) as Array<{
      id: number | string;
      at: string;
      import_id: number | string | null;
      row: number | null;
      username: string | null;
      action: string;
      changes: string | null;
      actor: string | null;
    }>;
    if (rows.length === 0) break;
    const chained = rows.map((r) => {
      const seq = head.seq + 1;
      const fields = [
        r.at,
        r.import_id === null ? null : Number(r.import_id),
        r.row === null ? null : Number(r.row),
        r.username,
        r.action,
        r.changes,
        r.actor,
      ] as const;
      const hash = eventHash(seq, head.hash, fields);
      const row = { id: r.id, at: r.at, action: r.action, seq, prev_hash: head.hash, hash };
      head = { seq, hash };
      return row;
    });
    // Each page in one statement: an insert that meets every row's id and updates its chain columns.
    await knex('audit_events').insert(chained).onConflict('id').merge(['seq', 'prev_hash', 'hash']);
    afterId = Number(rows[rows.length - 1]?.id);
  }
  await knex('audit_chain').insert({ id: 1, seq: head.seq, hash: head.hash });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_chain');
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropUnique(['seq'], 'audit_events_seq_unique');
    t.dropColumn('hash');
    t.dropColumn('prev_hash');
    t.dropColumn('seq');
  });
}
