/**
 * `usersync audit verify --log FILE`: the audit log file against the table (SPEC §10). Each JSON
 * line that carries a `seq` must be the table's event at that seq: the same hash and the same
 * fields (`changes` compared as parsed objects, not as text). A line whose seq is not in the table
 * is a problem (its event was deleted); lines without a seq, written before the chain existed, are
 * skipped and counted. The file is read line by line and checked in batches: flat memory.
 */
import type { FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { eventsAtSeqs, type ChainedEvent } from '../db/repositories/audit-chain-walk.js';
import { fail } from '../errors.js';

/** The file to check, already opened (so an unreadable file is a usage error before any walk). */
export interface AuditLogSource {
  /** As the person named it, for messages. */
  name: string;
  handle: FileHandle;
}

export interface LogCheck {
  file: string;
  lines: number;
  /** Lines matched against the table's event at their seq. */
  checked: number;
  /** Lines without a seq (written before the chain existed). */
  withoutSeq: number;
}

export type LogVerdict =
  { ok: true; summary: LogCheck } | { ok: false; seq: number | null; line: number; problem: string };

/** Lines looked up per query (well under every dialect's `where in` limit). */
const BATCH = 1000;

interface Pending {
  line: number;
  seq: number;
  fields: Record<string, unknown>;
}

/** The line's fields and the event's columns, as the line format names them (pipeline/audit.ts). */
const SCALARS: ReadonlyArray<readonly [string, (e: ChainedEvent) => unknown]> = [
  ['action', (e) => e.action],
  ['at', (e) => e.at],
  ['importId', (e) => e.importId],
  ['row', (e) => e.row],
  ['username', (e) => e.username],
  ['actor', (e) => e.actor],
];

/** The fields of `line` that differ from `event`, by name. */
function differences(fields: Record<string, unknown>, event: ChainedEvent): string[] {
  const differ = SCALARS.filter(([name, column]) => fields[name] !== column(event)).map(([name]) => name);
  const stored = event.changes === null ? null : (JSON.parse(event.changes) as unknown);
  if (!isDeepStrictEqual(fields.changes, stored)) differ.push('changes');
  return differ;
}

export async function checkAuditLog(knex: Knex, source: AuditLogSource): Promise<LogVerdict> {
  const summary: LogCheck = { file: source.name, lines: 0, checked: 0, withoutSeq: 0 };
  const where = (line: number) => `line ${line} of ${source.name}`;
  let pending: Pending[] = [];
  const flush = async (): Promise<LogVerdict | undefined> => {
    const batch = pending;
    pending = [];
    const events = await eventsAtSeqs(knex, [...new Set(batch.map((p) => p.seq))]);
    for (const { line, seq, fields } of batch) {
      const event = events.get(seq);
      if (event === undefined)
        return {
          ok: false,
          seq,
          line,
          problem: `${where(line)} is event ${seq}, which is not in the table: it was deleted from the database`,
        };
      if (fields.hash !== event.hash)
        return {
          ok: false,
          seq,
          line,
          problem: `${where(line)} gives event ${seq} the hash ${String(fields.hash)}, but the table's event ${seq} has ${event.hash}: one of them was rewritten`,
        };
      const differ = differences(fields, event);
      if (differ.length > 0)
        return {
          ok: false,
          seq,
          line,
          problem: `${where(line)} (event ${seq}) does not match the table's event ${seq} in its ${differ.join(', ')}. The file or the table was edited`,
        };
      summary.checked++;
    }
    return undefined;
  };
  for await (const text of readLines(source)) {
    const line = ++summary.lines;
    if (text.trim() === '') continue;
    let fields: unknown;
    try {
      fields = JSON.parse(text);
    } catch {
      return { ok: false, seq: null, line, problem: `${where(line)} is not a JSON line: it was cut short or edited` };
    }
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields))
      return { ok: false, seq: null, line, problem: `${where(line)} is not an audit event (not a JSON object)` };
    const record = fields as Record<string, unknown>;
    if (!('seq' in record)) {
      summary.withoutSeq++;
      continue;
    }
    if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 1)
      return {
        ok: false,
        seq: null,
        line,
        problem: `${where(line)} has seq ${JSON.stringify(record.seq)}, which is not a place in the chain`,
      };
    pending.push({ line, seq: record.seq as number, fields: record });
    if (pending.length >= BATCH) {
      const problem = await flush();
      if (problem) return problem;
    }
  }
  return (await flush()) ?? { ok: true, summary };
}

/** The file's lines; a read that fails (an I/O error, a directory) is AUDIT_LOG_UNREADABLE. */
async function* readLines(source: AuditLogSource): AsyncGenerator<string> {
  const lines = createInterface({ input: source.handle.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    yield* lines;
  } catch (error) {
    throw fail('AUDIT_LOG_UNREADABLE', {
      message: `The audit log ${source.name} could not be read to the end (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
      cause: error,
    });
  } finally {
    lines.close();
  }
}
