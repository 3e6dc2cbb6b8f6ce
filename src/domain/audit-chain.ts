/**
 * The audit chain (SPEC §10): each event's `hash` is SHA-256 over a canonical encoding of its
 * fields and the hash before it, so changing, removing, inserting or reordering an event breaks
 * every hash from there on. docs/audit-chain.md describes the encoding for auditors.
 *
 * The encoding is the JSON text (ECMAScript `JSON.stringify`, no spaces) of the array
 *   [seq, prev_hash, at, import_id, row, username, action, changes, actor]
 * with integers as numbers, absent values as null and `changes` as the JSON text stored in the
 * database (a string, not re-serialised), encoded as UTF-8. The first event's prev_hash is 64 zeros.
 */
import { createHash } from 'node:crypto';

/** prev_hash of the first event of the chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** The chain's last event: where the next one is appended. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** The chain before its first event. */
export const EMPTY_CHAIN: ChainHead = { seq: 0, hash: GENESIS_HASH };

/** An event's fields as stored, in the order they are encoded. */
export type ChainedFields = readonly [
  at: string,
  importId: number | null,
  row: number | null,
  username: string | null,
  action: string,
  changes: string | null,
  actor: string | null,
];

/**
 * The hash function over a given `createHash`: written so that its source also runs on a writer
 * thread (db/statement-writer.ts evaluates it there with the thread's own node:crypto).
 */
export function eventHasher(
  sha256: typeof createHash,
): (seq: number, prevHash: string, fields: readonly unknown[]) => string {
  return (seq, prevHash, fields) =>
    sha256('sha256')
      .update(
        JSON.stringify([seq, prevHash, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]]),
      )
      .digest('hex');
}

/** SHA-256 (hex) of the event `seq` after `prevHash`: see the module comment for the encoding. */
export const eventHash: (seq: number, prevHash: string, fields: ChainedFields) => string = eventHasher(createHash);
