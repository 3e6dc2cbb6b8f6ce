/**
 * The head of the audit chain (`audit_chain`, one row): locked by every writer of events before
 * it reads where to append, and moved in the same transaction, so writers take turns — two
 * commands, or two processes on one MariaDB — and never fork or gap the chain.
 *
 * The writer threads (db/statement-writer.ts) do the same in their own SQL: keep them in step.
 */
import type { Knex } from 'knex';
import type { ChainHead } from '../../domain/audit-chain.js';
import type { Dialect } from '../dialect.js';

/**
 * Locks the head for this transaction and reads it. SQLite: a write first, which takes the
 * database's write lock (waiting busy_timeout for another writer) before the head is read;
 * MySQL: `select … for update`, a row lock held until the transaction ends.
 */
export async function lockChainHead(trx: Knex, dialect: Dialect): Promise<ChainHead> {
  if (dialect === 'sqlite')
    await trx('audit_chain')
      .where('id', 1)
      .update({ seq: trx.raw('seq') });
  const query = trx('audit_chain').where('id', 1).first('seq', 'hash');
  const row = (await (dialect === 'mysql' ? query.forUpdate() : query)) as
    { seq: number | string; hash: string } | undefined;
  if (row === undefined) throw new Error('The audit chain has no head row (audit_chain): run `usersync migrate`.');
  return { seq: Number(row.seq), hash: row.hash };
}

/** Moves the head to the last event appended, in the transaction that locked it. */
export async function moveChainHead(trx: Knex, head: ChainHead): Promise<void> {
  await trx('audit_chain').where('id', 1).update({ seq: head.seq, hash: head.hash });
}

/** The head as committed, without locking it (reports, verify). */
export async function readChainHead(knex: Knex): Promise<ChainHead | undefined> {
  const row = (await knex('audit_chain').where('id', 1).first('seq', 'hash')) as
    { seq: number | string; hash: string } | undefined;
  return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
}

/**
 * Where an import's events end in the chain: its last event (by id, which follows the chain within
 * one import, through the import_id index), or the chain's head when it has none.
 */
export async function lastEventOf(knex: Knex, importId: number | null): Promise<ChainHead | undefined> {
  if (importId !== null) {
    const row = (await knex('audit_events').where('import_id', importId).orderBy('id', 'desc').first('seq', 'hash')) as
      { seq: number | string | null; hash: string | null } | undefined;
    if (row?.seq != null && row.hash !== null) return { seq: Number(row.seq), hash: row.hash };
  }
  return readChainHead(knex);
}
