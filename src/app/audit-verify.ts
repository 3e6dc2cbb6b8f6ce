/**
 * `usersync audit verify` (SPEC §10): walks the audit chain in seq order and says whether it is
 * intact, or names the first event where it is not, in words a person can act on. Checks, in this
 * order (the first failure wins):
 *   1. every event in seq order: no gap in seq, `prev_hash` = the previous event's hash, and the
 *      event's fields still hash to its `hash`;
 *   2. no event without a seq (written around the chain);
 *   3. the head row (`audit_chain`) names the last event, with its hash;
 *   4. `--anchor SEQ:HASH`: that event is still in the chain, with that hash;
 *   5. `--log FILE`: each line with a seq matches the table's event (app/audit-log-check.ts).
 * One page of events in memory at a time (db/repositories/audit-chain-walk.ts).
 */
import type { Knex } from 'knex';
import { EMPTY_CHAIN, eventHash, type ChainHead } from '../domain/audit-chain.js';
import {
  chainedFields,
  readChainHead,
  unchainedEvents,
  walkChain,
  type ChainedEvent,
} from '../db/repositories/audit-chain-walk.js';
import { checkAuditLog, type AuditLogSource, type LogCheck } from './audit-log-check.js';

/** Which check failed: stable words for scripts (the `problem` text is for people). */
export type ChainCheck = 'gap' | 'link' | 'changed' | 'unchained' | 'head' | 'anchor' | 'log';

export interface ChainBroken {
  ok: false;
  /** The chain place of the first broken event (null when no place can be named). */
  seq: number | null;
  problem: string;
  check: ChainCheck;
  /** The row id of an event without a seq. */
  eventId?: number;
  /** The line of the audit log file (1 = the first). */
  line?: number;
}

export interface ChainIntact {
  ok: true;
  events: number;
  head: ChainHead;
  anchor?: ChainHead;
  log?: LogCheck;
}

export type ChainVerdict = ChainIntact | ChainBroken;

export interface VerifyOptions {
  anchor?: ChainHead | undefined;
  log?: AuditLogSource | undefined;
  /** Rows per query (CHAIN_PAGE by default; tests use small pages to cross page boundaries). */
  page?: number;
}

const short = (hash: string | null) => (hash === null ? 'none' : `${hash.slice(0, 12)}…`);

/** The first problem of one event after `prev`, or undefined when it follows it correctly. */
function problemOf(e: ChainedEvent, prev: ChainHead): ChainBroken | undefined {
  const expected = prev.seq + 1;
  if (e.seq > expected) {
    const missing =
      e.seq === expected + 1 ? `event ${expected} is missing` : `events ${expected} to ${e.seq - 1} are missing`;
    return broken(
      'gap',
      expected,
      `${missing}: the chain jumps from event ${prev.seq} to event ${e.seq} (deleted from the table)`,
    );
  }
  if (e.seq < expected)
    return broken(
      'gap',
      e.seq,
      `the event with id ${e.id} has seq ${e.seq}, which is not a place in the chain (it starts at 1)`,
    );
  if (e.prevHash !== prev.hash)
    return broken(
      'link',
      e.seq,
      `event ${e.seq} does not follow event ${prev.seq}: its prev_hash (${short(e.prevHash)}) is not the hash of event ${prev.seq} (${short(prev.hash)}). An event was removed, inserted or reordered before it, or event ${prev.seq} was rewritten`,
    );
  if (e.hash !== eventHash(e.seq, e.prevHash, chainedFields(e)))
    return broken(
      'changed',
      e.seq,
      `event ${e.seq} (${e.action} at ${e.at}) was changed after it was written: its fields no longer hash to its hash`,
    );
  return undefined;
}

const broken = (
  check: ChainCheck,
  seq: number | null,
  problem: string,
  extra: Partial<ChainBroken> = {},
): ChainBroken => ({
  ok: false,
  seq,
  problem,
  check,
  ...extra,
});

/** Walks the whole chain and the checks above; never throws for a broken chain (database errors do). */
export async function verifyAuditChain(knex: Knex, options: VerifyOptions = {}): Promise<ChainVerdict> {
  let last: ChainHead = EMPTY_CHAIN;
  let anchorHash: string | undefined;
  let events = 0;
  const walk = async (after: number | undefined): Promise<ChainBroken | undefined> => {
    for await (const page of walkChain(knex, after, options.page)) {
      for (const e of page) {
        const problem = problemOf(e, last);
        if (problem) return problem;
        last = { seq: e.seq, hash: e.hash! };
        events++;
        if (e.seq === options.anchor?.seq) anchorHash = e.hash!;
      }
    }
    return undefined;
  };
  let problem = await walk(undefined);
  if (problem) return problem;

  const outside = await unchainedEvents(knex);
  if (outside.count > 0) {
    const which = outside.count === 1 ? 'an event has' : `${outside.count} events have`;
    return broken(
      'unchained',
      null,
      `${which} no place in the chain (no seq), the first with id ${outside.firstId}: written around the chain, not by usersync`,
      { eventId: outside.firstId ?? undefined },
    );
  }

  // Events committed while we walked move the head on: walk on to it. A head still ahead of the
  // last event once nothing more is found means the newest events were deleted.
  let head = await readChainHead(knex);
  while (head !== undefined && head.seq > last.seq) {
    const before = last.seq;
    problem = await walk(last.seq);
    if (problem) return problem;
    if (last.seq === before) break;
    head = await readChainHead(knex);
  }
  if (head === undefined)
    return broken('head', null, 'the chain head (table audit_chain, row 1) is missing: it was deleted');
  if (head.seq > last.seq)
    return broken(
      'head',
      last.seq + 1,
      `the newest events were deleted: the chain head (audit_chain) records event ${head.seq} (${short(head.hash)}), but the last event in the table is ${last.seq}`,
    );
  if (head.seq < last.seq)
    return broken(
      'head',
      head.seq + 1,
      `events ${head.seq + 1} to ${last.seq} were added without the chain head (audit_chain), which records event ${head.seq} as the newest`,
    );
  if (head.hash !== last.hash)
    return broken(
      'head',
      last.seq,
      `the newest event ${last.seq} has hash ${short(last.hash)}, not ${short(head.hash)} as the chain head (audit_chain) records: it was replaced`,
    );

  const anchor = options.anchor;
  if (anchor !== undefined) {
    if (anchorHash === undefined)
      return broken(
        'anchor',
        anchor.seq,
        `event ${anchor.seq} of the anchor is no longer in the chain (its newest event is ${last.seq}): the newest events were deleted`,
      );
    if (anchorHash !== anchor.hash)
      return broken(
        'anchor',
        anchor.seq,
        `event ${anchor.seq} has hash ${short(anchorHash)}, not the anchor's ${short(anchor.hash)}: the history up to it was rewritten`,
      );
  }

  let log: LogCheck | undefined;
  if (options.log !== undefined) {
    const checked = await checkAuditLog(knex, options.log);
    if (!checked.ok) return broken('log', checked.seq, checked.problem, { line: checked.line });
    log = checked.summary;
  }
  return { ok: true, events, head: last, ...(anchor && { anchor }), ...(log && { log }) };
}
