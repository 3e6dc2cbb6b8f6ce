/**
 * Reading the audit chain back (SPEC §10) for `usersync audit verify`: the events in `seq` order,
 * in pages of keyset reads (`where seq > ? order by seq limit N`, the unique index on `seq`), so a
 * walk over millions of events holds one page at a time; the head row; the events outside the
 * chain; and the events at given places of the chain (the audit log's cross-check).
 *
 * Rows come back as stored: `changes` is the JSON text of the column, which is what is hashed.
 */
import type { Knex } from 'knex';
import type { ChainedFields, ChainHead } from '../../domain/audit-chain.js';

/** One event as the chain stores it. */
export interface ChainedEvent {
  id: number;
  seq: number;
  prevHash: string | null;
  hash: string | null;
  at: string;
  importId: number | null;
  row: number | null;
  username: string | null;
  action: string;
  /** The JSON text stored in the column (not re-serialised). */
  changes: string | null;
  actor: string | null;
}

interface ChainRow {
  id: number | string;
  seq: number | string;
  prev_hash: string | null;
  hash: string | null;
  at: string;
  import_id: number | string | null;
  row: number | string | null;
  username: string | null;
  action: string;
  changes: string | null;
  actor: string | null;
}

const COLUMNS = ['id', 'seq', 'prev_hash', 'hash', 'at', 'import_id', 'row', 'username', 'action', 'changes', 'actor'];

/** Rows read per query: large enough that the round trips do not dominate, small enough to stay flat. */
export const CHAIN_PAGE = 5000;

const toEvent = (r: ChainRow): ChainedEvent => ({
  id: Number(r.id),
  seq: Number(r.seq),
  prevHash: r.prev_hash,
  hash: r.hash,
  at: r.at,
  importId: r.import_id === null ? null : Number(r.import_id),
  row: r.row === null ? null : Number(r.row),
  username: r.username,
  action: r.action,
  changes: r.changes,
  actor: r.actor,
});

/** The fields an event's hash covers, in the order of domain/audit-chain.ts. */
export const chainedFields = (e: ChainedEvent): ChainedFields => [
  e.at,
  e.importId,
  e.row,
  e.username,
  e.action,
  e.changes,
  e.actor,
];

/**
 * The chained events after `afterSeq` (all of them when undefined), in seq order, one page of
 * `page` rows in memory at a time. Events without a seq are not part of the chain and not read.
 */
export async function* walkChain(
  knex: Knex,
  afterSeq?: number,
  page: number = CHAIN_PAGE,
): AsyncGenerator<ChainedEvent[]> {
  const read = async (after: number | undefined) => {
    const query = knex('audit_events').select(COLUMNS).orderBy('seq').limit(page);
    if (after === undefined) query.whereNotNull('seq');
    else query.where('seq', '>', after);
    return ((await query) as ChainRow[]).map(toEvent);
  };
  // The next page is asked for as soon as this one arrives, so the server reads it while the
  // caller hashes this one (MariaDB: a third of the time of a walk; SQLite's driver is synchronous).
  let next: Promise<ChainedEvent[]> | undefined = read(afterSeq);
  try {
    while (next !== undefined) {
      const rows: ChainedEvent[] = await next;
      next = rows.length < page ? undefined : read(rows[rows.length - 1]!.seq);
      if (rows.length > 0) yield rows;
    }
  } finally {
    // A caller that stopped early: the page read ahead is not wanted, nor its failure.
    next?.catch(() => undefined);
  }
}

/** The head row of `audit_chain`, or undefined when it is missing. */
export async function readChainHead(knex: Knex): Promise<ChainHead | undefined> {
  const row = (await knex('audit_chain').where('id', 1).first('seq', 'hash')) as
    { seq: number | string; hash: string } | undefined;
  return row === undefined ? undefined : { seq: Number(row.seq), hash: row.hash };
}

/** How many events have no seq (written around the chain), and the id of the first of them. */
export async function unchainedEvents(knex: Knex): Promise<{ count: number; firstId: number | null }> {
  const row = (await knex('audit_events')
    .whereNull('seq')
    .first(knex.raw('count(*) as n'), knex.raw('min(id) as id'))) as
    { n: number | string; id: number | string | null } | undefined;
  return { count: Number(row?.n ?? 0), firstId: row?.id === null || row?.id === undefined ? null : Number(row.id) };
}

/** The chained events at these places of the chain (at most `maxInParams` of them per call). */
export async function eventsAtSeqs(knex: Knex, seqs: readonly number[]): Promise<Map<number, ChainedEvent>> {
  const found = new Map<number, ChainedEvent>();
  if (seqs.length === 0) return found;
  const rows = (await knex('audit_events')
    .select(COLUMNS)
    .whereIn('seq', [...seqs])) as ChainRow[];
  for (const row of rows) found.set(Number(row.seq), toEvent(row));
  return found;
}
