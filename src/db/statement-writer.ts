/**
 * An import's writes on a thread of their own, over a connection of their own: what the SQLite
 * and MySQL writers (sqlite-writer.ts, mysql-writer.ts) share — the thread, the messages, and the
 * statements' values as they cross.
 *
 * The import's thread validates and diffs the next batch while this one's statements run. They
 * need nothing back (apply/queue-change-set.ts refers to departments, users and groups by key), so the
 * import's thread waits only for the batch before last (what is queued stays at two batches) and,
 * before sending a commit, for the commit before it (apply/queued-transaction.ts).
 *
 * The import's own connection keeps reading (stored users, departments) outside this transaction:
 * it sees what is committed while this one writes, and a batch never reads a user another batch
 * of the same file writes (apply/prepare.ts).
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { eventHasher } from '../domain/audit-chain.js';
import type { BoundStatement, ColumnReference } from './bulk.js';

/**
 * Worker source shared by both writers (CommonJS, eval'd like wal-checkpointer.ts): the message
 * loop and the values' decoding. A dialect's source defines, before this part:
 * - `async function runStatements(decoded)`: runs each `{ sql, bindings, width, references, identifies }`
 *   of `decodeStatements(message)` in order, inside the open transaction (one begins with the first);
 * - `async function endTransaction(how)`: 'commit' | 'rollback', nothing open: nothing to do;
 *   a rollback never throws;
 * - `async function closeConnection()`: never throws;
 * - `async function readChainHead()` / `async function writeChainHead(head)`: the audit chain's
 *   head locked and read in the open transaction, and moved (repositories/audit-chain.ts).
 * A dialect's `runStatements` calls `await chain(statement)` before running a `chained` statement.
 * After a failure the transaction is rolled back and every statement until its end is skipped,
 * each reply repeating the failure, so the import's thread hears of it at its next wait.
 */
export const WORKER_LOOP_SOURCE = `
// The audit chain (domain/audit-chain.ts): the head as this transaction moves it, read at its
// first event (undefined until then); the hashes given this message's events, for the reply.
const eventHash = (${eventHasher.toString()})(require('node:crypto').createHash);
let chainHead;
let chainMoved = false;
let chainedFirst = 0;
let chainedHashes = [];
async function chain({ bindings, width }) {
  if (chainHead === undefined) chainHead = await readChainHead();
  for (let at = 0; at < bindings.length; at += width) {
    const seq = chainHead.seq + 1;
    const hash = eventHash(seq, chainHead.hash, bindings.slice(at, at + width - 3));
    bindings[at + width - 3] = seq;
    bindings[at + width - 2] = chainHead.hash;
    bindings[at + width - 1] = hash;
    if (chainedHashes.length === 0) chainedFirst = seq;
    chainedHashes.push(hash);
    chainHead = { seq, hash };
    chainMoved = true;
  }
}
function takeChained() {
  if (chainedHashes.length === 0) return undefined;
  const chained = { first: chainedFirst, hashes: chainedHashes.join('') };
  chainedHashes = [];
  return chained;
}
async function ended(how) {
  if (how === 'commit' && chainMoved) await writeChainHead(chainHead);
  await endTransaction(how);
  chainHead = undefined;
  chainMoved = false;
}
// The statements' values, out of encodeStatements' columns (in the same order).
function* decodeStatements({ sql, counts, widths, references, identifies, chained, kinds, ints, numbers, text }) {
  let value = 0;
  let offset = 0;
  let number = 0;
  for (let s = 0; s < sql.length; s++) {
    const bindings = new Array(counts[s]);
    for (let i = 0; i < bindings.length; i++, value++) {
      const kind = kinds[value];
      if (kind === 0) bindings[i] = null;
      else if (kind === 1) bindings[i] = ints[value];
      else if (kind === 2) {
        bindings[i] = text.substring(offset, offset + ints[value]);
        offset += ints[value];
      } else if (kind === 3) bindings[i] = numbers[number++];
      else bindings[i] = bindings[i - widths[s]];
    }
    yield { sql: sql[s], bindings, width: widths[s], references: references[s], identifies: identifies[s], chained: chained[s] };
  }
}
const describeFailure = (error) => ({ name: error && error.name, message: String(error && error.message), code: error && error.code, errno: error && error.errno, fatal: error && error.fatal });
let failure;
async function handle({ seq, statements, end }) {
  if (failure === undefined) {
    try {
      await runStatements(statements);
      if (end === 'commit') await ended('commit');
    } catch (error) {
      failure = describeFailure(error);
      await ended('rollback');
    }
  }
  const chained = takeChained();
  const reply = { seq, failure: end === 'rollback' || end === 'close' ? undefined : failure, chained: failure ? undefined : chained };
  if (end !== undefined) {
    await ended('rollback');
    failure = undefined;
  }
  if (end === 'close') {
    await closeConnection();
    parentPort.postMessage(reply);
    parentPort.close();
    return;
  }
  parentPort.postMessage(reply);
}
// Messages are handled one after another, in the order sent.
let handled = Promise.resolve();
parentPort.on('message', (message) => {
  handled = handled.then(() => handle(message));
});
`;

interface Reply {
  seq: number;
  failure?: { name?: string; message: string; code?: string; errno?: number; fatal?: boolean };
  chained?: ChainedEvents;
}

/**
 * Where the audit events of the statements a message ran went in the chain: the first one's seq,
 * and each one's hash (64 hex characters each, one after another), in the order they were queued.
 */
export interface ChainedEvents {
  first: number;
  hashes: string;
}

/** What apply/ needs of a writer: statements queued, sent, committed or rolled back. */
export interface ImportWriter {
  queue(statements: readonly BoundStatement[]): void;
  /** Resolves with where the audit events it ran went in the chain (none: undefined). */
  send(): Promise<ChainedEvents | undefined>;
  commit(): Promise<ChainedEvents | undefined>;
  rollback(): Promise<void>;
  close(): Promise<void>;
}

/** One connection, writing on its own thread; see the module comment. `what` names it in errors ("SQLite writer"). */
export class StatementWriter implements ImportWriter {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private readonly waiting = new Map<
    number,
    { resolve: (chained: ChainedEvents | undefined) => void; reject: (error: Error) => void }
  >();
  private queued: BoundStatement[] = [];
  private seq = 0;
  /** Set once the thread is gone: every wait from then on fails with it. */
  private gone: Error | undefined;

  constructor(source: string, workerData: Record<string, unknown>, what: string, resourceLimits?: ResourceLimits) {
    this.worker = new Worker(source, {
      eval: true,
      workerData,
      execArgv: [],
      ...(resourceLimits ? { resourceLimits } : {}),
    });
    this.exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.seq);
      this.waiting.delete(reply.seq);
      if (reply.failure) {
        const { name, message, ...driver } = reply.failure;
        waiter?.reject(Object.assign(new Error(message), { name: name ?? 'Error' }, withoutUndefined(driver)));
      } else waiter?.resolve(reply.chained);
    });
    const lost = (error: Error) => {
      this.gone ??= error;
      for (const waiter of this.waiting.values()) waiter.reject(this.gone);
      this.waiting.clear();
    };
    this.worker.on('error', lost);
    this.worker.once('exit', (code) => lost(new Error(`The ${what} thread ended (exit code ${code}).`)));
  }

  /** Queues statements for the open transaction (one begins with the first); `send` hands them over. */
  queue(statements: readonly BoundStatement[]): void {
    for (const statement of statements) this.queued.push(statement);
  }

  /**
   * Hands what is queued to the thread. Resolves once it has run; rejects with the open
   * transaction's first failure (a driver error with its `code`, e.g. SQLITE_FULL or
   * ER_LOCK_DEADLOCK), which rolled that transaction back.
   */
  send(): Promise<ChainedEvents | undefined> {
    return this.post(undefined);
  }

  /** Sends what is queued and commits it all; rejects with the transaction's first failure (nothing committed). */
  commit(): Promise<ChainedEvents | undefined> {
    return this.post('commit');
  }

  /** Drops what is queued and rolls back what the thread has run; never throws. */
  async rollback(): Promise<void> {
    this.queued = [];
    await this.post('rollback').catch(() => undefined);
  }

  /** Rolls back anything still open, closes the connection and ends the thread; never throws. */
  async close(): Promise<void> {
    this.queued = [];
    if (this.gone === undefined) await this.post('close').catch(() => undefined);
    await this.exited;
  }

  private post(end: 'commit' | 'rollback' | 'close' | undefined): Promise<ChainedEvents | undefined> {
    if (this.gone) return Promise.reject(this.gone);
    const seq = ++this.seq;
    const statements = this.queued;
    this.queued = [];
    const encoded = encodeStatements(statements);
    return new Promise<ChainedEvents | undefined>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      this.worker.postMessage({ seq, statements: encoded, end }, [
        encoded.kinds.buffer as ArrayBuffer,
        encoded.ints.buffer as ArrayBuffer,
        encoded.numbers.buffer as ArrayBuffer,
      ]);
    });
  }
}

const withoutUndefined = (fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));

/** Statements as they cross to the thread: their values in columns (see encodeStatements). */
export interface EncodedStatements {
  sql: string[];
  /** Values of each statement. */
  counts: number[];
  /** Values of each row of each statement (its rows are all as wide). */
  widths: number[];
  /** Each statement's references (BoundStatement.references), null for none. */
  references: Array<readonly ColumnReference[] | null>;
  /** Each statement's key column of the rows it creates (BoundStatement.identifies), null for none. */
  identifies: Array<ColumnReference | null>;
  /** Whether each statement's rows are audit events to chain (BoundStatement.chained). */
  chained: boolean[];
  /**
   * Per value: 0 null, 1 a 32-bit integer (in `ints`), 2 text (the next `ints` code units of
   * `text`), 3 another number (the next of `numbers`), 4 the same text as the row above.
   */
  kinds: Uint8Array;
  ints: Int32Array;
  numbers: Float64Array;
  /** Every text value, one after another. */
  text: string;
}

/**
 * A batch's statements for postMessage. Cloned as they are — arrays of thousands of values, each
 * handled on its own by V8's serialiser — a CPU profile of a 100k-row first load put 0.58 s of
 * the import's thread in postMessage; as columns (the numbers in transferred buffers, the text
 * as one string, copied whole), encoding and posting show ~0.36 s, part of which is the thread
 * being descheduled as it wakes the writer on 2 cores. Booleans go as 1/0, as bulkInsert binds them.
 */
export function encodeStatements(statements: readonly BoundStatement[]): EncodedStatements {
  let total = 0;
  for (const { rows } of statements) for (const row of rows) total += row.length;
  const kinds = new Uint8Array(total);
  const ints = new Int32Array(total);
  const numbers: number[] = [];
  const texts: string[] = [];
  const counts: number[] = [];
  const widths: number[] = [];
  let at = 0;
  for (const { sql, rows } of statements) {
    const first = at;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as readonly unknown[];
      const above = r > 0 ? rows[r - 1] : undefined;
      for (let c = 0; c < row.length; c++) {
        const value = row[c];
        if (typeof value === 'string') {
          // The same text as the row above (a batch's timestamps, its import's action…): sent once.
          if (above !== undefined && above[c] === value) kinds[at] = 4;
          else {
            kinds[at] = 2;
            ints[at] = value.length;
            texts.push(value);
          }
        } else if (typeof value === 'number' || typeof value === 'boolean') {
          const number = Number(value);
          if ((number | 0) === number && !Object.is(number, -0)) {
            kinds[at] = 1;
            ints[at] = number;
          } else {
            kinds[at] = 3;
            numbers.push(number);
          }
        } else if (value !== null && value !== undefined)
          throw new Error(`writer thread: cannot send a ${typeof value} value (${sql.slice(0, 40)}…)`);
        at++;
      }
    }
    counts.push(at - first);
    widths.push(rows[0]?.length ?? 0);
  }
  return {
    sql: statements.map((s) => s.sql),
    counts,
    widths,
    references: statements.map((s) => s.references ?? null),
    identifies: statements.map((s) => s.identifies ?? null),
    chained: statements.map((s) => s.chained === true),
    kinds,
    ints,
    numbers: Float64Array.from(numbers),
    text: texts.join(''),
  };
}
