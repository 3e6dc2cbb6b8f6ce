/**
 * An import's SQLite writes on a thread of their own (statement-writer.ts says how the writers work).
 *
 * better-sqlite3 runs every statement on the calling thread. In a 100k-row first load the import's
 * thread spent ~1.15 s of its ~2.8 s after the first batch inside SQLite (users 0.35 s, audit
 * events 0.31 s, memberships 0.25 s, commits 0.12 s) while the reader's worker idled over half the
 * time. Here a second connection, in a worker thread, runs a batch's statements while the import's
 * thread validates and diffs the next one. WAL lets the import's own connection read what is
 * committed meanwhile. Referenced keys are joined in the SQL (bulk.ts `references`).
 */
import { createRequire } from 'node:module';
import { StatementWriter, WORKER_LOOP_SOURCE } from './statement-writer.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
const statements = new Map();
function prepared(sql) {
  let statement = statements.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    statements.set(sql, statement);
    if (statements.size > 64) statements.delete(statements.keys().next().value);
  }
  return statement;
}
function open() {
  db = new Database(workerData.filename, { fileMustExist: true });
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = ' + workerData.autoCheckpointPages);
}
async function runStatements(encoded) {
  if (db === undefined) open();
  for (const statement of decodeStatements(encoded)) {
    // IMMEDIATE: the write lock is taken (or waited for, busy_timeout) at the start, so another
    // process committing meanwhile cannot fail a statement half-way (SQLITE_BUSY_SNAPSHOT).
    if (!db.inTransaction) db.exec('BEGIN IMMEDIATE');
    if (statement.chained) await chain(statement);
    prepared(statement.sql).run(statement.bindings);
  }
}
// The write lock taken by BEGIN IMMEDIATE is the chain's lock too (repositories/audit-chain.ts).
async function readChainHead() {
  const head = prepared('SELECT seq, hash FROM audit_chain WHERE id = 1').get();
  if (head === undefined) throw new Error('The audit chain has no head row (audit_chain): run usersync migrate.');
  return { seq: Number(head.seq), hash: head.hash };
}
async function writeChainHead(head) {
  prepared('UPDATE audit_chain SET seq = ?, hash = ? WHERE id = 1').run([head.seq, head.hash]);
}
async function endTransaction(how) {
  if (how === 'commit') {
    if (db && db.inTransaction) db.exec('COMMIT');
    return;
  }
  try {
    if (db && db.inTransaction) db.exec('ROLLBACK');
  } catch {
    // The connection is gone: nothing was committed either way.
  }
}
async function closeConnection() {
  if (db) db.close();
}
${WORKER_LOOP_SOURCE}
`;

export interface SqliteWriterSettings {
  busyTimeoutMs: number;
  /** The connection checkpoints itself only past this many WAL pages (wal-checkpointer.ts). */
  autoCheckpointPages: number;
}

/** One connection to an existing SQLite database, writing on its own thread. */
export class SqliteWriter extends StatementWriter {
  constructor(filename: string, settings: SqliteWriterSettings) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    super(WORKER_SOURCE, { filename, driver, ...settings }, 'SQLite writer');
  }
}
