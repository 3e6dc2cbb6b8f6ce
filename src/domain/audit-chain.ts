/**
 * The audit chain (SPEC §10): each event's `hash` is SHA-256 over a canonical encoding of its
 * fields and the hash before it, so changing, removing, inserting or reordering an event breaks
 * every hash from there on. docs/audit-chain.md describes the encoding for auditors.
 *
 * The encoding, as UTF-8: the JSON text (ECMAScript `JSON.stringify`, no spaces) of the array
 *   [seq, prev_hash, at, import_id, row, username, action, actor]
 * with integers as numbers and absent values as null, a line feed, then the `changes` column's
 * text exactly as stored (nothing when it is NULL). `changes` is taken as stored rather than
 * escaped inside the array: escaping its quotes again doubled the cost of hashing, and the stored
 * text is what an auditor reads back. The first event's prev_hash is 64 zeros.
 */
import { hash } from 'node:crypto';

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
 * The hash function over a given one-shot `hash` (node:crypto's): written so that its source also
 * runs on a writer thread (db/statement-writer.ts evaluates it there with the thread's own
 * node:crypto). `fields` are ChainedFields' seven, in order, from index `at`
 * (a writer thread hashes its rows where they lie in a statement's bindings).
 */
export function eventHasher(
  sha256: typeof hash,
): (seq: number, prevHash: string, fields: readonly unknown[], at?: number) => string {
  return (seq, prevHash, f, at = 0) =>
    sha256(
      'sha256',
      JSON.stringify([seq, prevHash, f[at], f[at + 1], f[at + 2], f[at + 3], f[at + 4], f[at + 6]]) +
        '\n' +
        ((f[at + 5] as string | null) ?? ''),
      'hex',
    );
}

/** SHA-256 (hex) of the event `seq` after `prevHash`: see the module comment for the encoding. */
export const eventHash: (seq: number, prevHash: string, fields: ChainedFields) => string = eventHasher(hash);
