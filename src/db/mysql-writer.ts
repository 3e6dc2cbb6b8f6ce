/**
 * An import's MySQL/MariaDB writes on a thread of their own (statement-writer.ts says how the
 * writers work), over a connection of their own.
 *
 * On the import's thread each batch's statements ran one after another, each sent only once the
 * thread was free to hear the last one's answer: in a 100k-row first load the import's thread and
 * the server took turns, together using about one of the machine's two cores (per-thread CPU
 * sampled every 250 ms: server ~55 % of a core, import's thread ~40 %). Here the server is handed
 * the next statement as soon as it answers, while the import's thread checks the next batch.
 *
 * Statements refer to departments, groups and the users they create by key (bulk.ts `references`);
 * this thread binds their ids: those of users a plain insert just created from the insert's first
 * id where InnoDB promises consecutive ids (recordIds), the others looked up (one `select … where
 * key in (…)` per statement for the keys it has not seen in this transaction). Inferring the new
 * users' ids instead of selecting them: server CPU 4.14 → 3.98 s in a 100k-row first load (medians
 * of five alternating runs). MariaDB 10.11 ran the same work as a join or a sub-select inside the
 * insert much slower — in a scratch script, 100k users, their 233k memberships and their audit
 * events took 3.1–3.5 s of server CPU as multi-row VALUES with ids, 5.4–5.7 s through JSON_TABLE
 * joins, 4.1 s with `where username in (…)` per role, 5.5 s with the department as a sub-select.
 */
import { createRequire } from 'node:module';
import { createPipelinedExecute } from './mysql-pipeline.js';
import { StatementWriter, WORKER_LOOP_SOURCE } from './statement-writer.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const mysql = require(workerData.driver);
const { execute } = (${createPipelinedExecute.toString()})(require('node:path').dirname(workerData.driver), require);
let connection;
let session;
let inTransaction = false;
// Ids by table and key, looked up or taken from this thread's inserts; kept across commits (rows
// are never renumbered), forgotten on a rollback (its rows are gone) and when a table's grow past
// a bound (a file's users).
const ids = new Map();
const KNOWN_IDS_MAX = 20000;
const LOOKUP_KEYS_MAX = 1000;
function idsOf(table) {
  let known = ids.get(table);
  if (known === undefined || known.size > KNOWN_IDS_MAX) ids.set(table, (known = new Map()));
  return known;
}

function command(run) {
  return new Promise((resolve, reject) => run((error, result) => (error ? reject(error) : resolve(result))));
}
// Connects at once, so the handshake overlaps the reader's start; a connection that failed or was
// lost is replaced at the next statement.
function connect() {
  const c = mysql.createConnection(workerData.connection);
  // A connection's own 'error' event (the server went away between statements) must not end the
  // thread: the next command fails with it, and that failure is reported.
  c.on('error', () => {});
  connection = c;
  session = command((done) => c.query(workerData.sessionSql, done)).then(() => idSpacing(c));
  session.catch(() => undefined);
}
// How far apart the ids of one multi-row insert are, when they are sure to be consecutive: InnoDB
// hands a "simple insert" (rows known in advance) all its auto-increment values at once in the
// traditional and consecutive lock modes (0, 1: MariaDB's default), spaced by
// auto_increment_increment; the interleaved mode (2: MySQL 8's default, Galera's) does not promise
// that. Undefined: the ids are selected instead.
let spacing;
async function idSpacing(c) {
  try {
    const [[mode, increment]] = await command((done) => c.query({ sql: 'select @@innodb_autoinc_lock_mode, @@auto_increment_increment', rowsAsArray: true }, done));
    spacing = Number(mode) === 0 || Number(mode) === 1 ? Number(increment) : undefined;
  } catch {
    spacing = undefined; // not InnoDB's variables: select the ids
  }
}
// A plain insert's rows get ids first, first + spacing, … in the order given: known without a select.
function recordIds({ bindings, width, identifies }, result) {
  const rows = bindings.length / width;
  if (spacing === undefined || !result || result.affectedRows !== rows || !(result.insertId > 0)) return;
  const known = idsOf(identifies.table);
  for (let r = 0; r < rows; r++) known.set(bindings[r * width + identifies.column], result.insertId + r * spacing);
}
async function ready() {
  if (connection === undefined) connect();
  try {
    await session;
  } catch (error) {
    connection = undefined;
    throw error;
  }
  return connection;
}
function forget(error) {
  if (error && error.fatal) connection = undefined;
  throw error;
}

async function resolveReferences(c, { bindings, width, references }) {
  for (const { column, table, key } of references) {
    const known = idsOf(table);
    const missing = new Set();
    for (let i = column; i < bindings.length; i += width) {
      const value = bindings[i];
      if (value !== null && !known.has(value)) missing.add(value);
    }
    const keys = [...missing];
    for (let at = 0; at < keys.length; at += LOOKUP_KEYS_MAX) {
      const part = keys.slice(at, at + LOOKUP_KEYS_MAX);
      const sql = 'select \`id\`, \`' + key + '\` from \`' + table + '\` where \`' + key + '\` in (' + part.map(() => '?').join(',') + ')';
      const rows = await command((done) => c.query({ sql, rowsAsArray: true }, part, done)).catch(forget);
      for (const [id, found] of rows) known.set(found, id);
    }
    for (let i = column; i < bindings.length; i += width) {
      const value = bindings[i];
      if (value !== null) bindings[i] = known.has(value) ? known.get(value) : null;
    }
  }
}

async function runStatements(encoded) {
  // Statements are queued without waiting for the one before (the connection runs them in order),
  // and written to the socket at once where they can be (mysql-pipeline.ts): the server goes from
  // one to the next. Only a look-up's answer is waited for, as its ids are bound into the
  // statement after it.
  const sent = [];
  // Inserts whose ids a later statement of the message may refer to: it waits for them to be known.
  const identifying = [];
  try {
    for (const statement of decodeStatements(encoded)) {
      const c = await ready();
      if (!inTransaction) {
        inTransaction = true;
        sent.push(command((done) => c.query('START TRANSACTION', done)));
      }
      if (statement.references) {
        await Promise.all(identifying);
        await resolveReferences(c, statement);
      }
      if (statement.chained) await chain(statement);
      const running = command((done) => execute(c, statement.sql, statement.bindings, done)); // mysql-pipeline.ts
      running.catch(() => undefined); // awaited below, in order
      sent.push(running);
      if (statement.identifies) identifying.push(running.then((result) => recordIds(statement, result), () => undefined));
    }
  } finally {
    // The first failure in the order sent is the transaction's.
    for (const running of sent) await running.catch(forget);
  }
}
// The head's row lock, held until the transaction ends, makes other writers of events wait
// (repositories/audit-chain.ts). Its answer waits for the statements sent before it.
async function readChainHead() {
  const c = await ready();
  const [head] = await command((done) => c.query('SELECT seq, hash FROM audit_chain WHERE id = 1 FOR UPDATE', done)).catch(forget);
  if (head === undefined) throw new Error('The audit chain has no head row (audit_chain): run usersync migrate.');
  return { seq: Number(head.seq), hash: head.hash };
}
async function writeChainHead(head) {
  await command((done) => connection.query('UPDATE audit_chain SET seq = ?, hash = ? WHERE id = 1', [head.seq, head.hash], done)).catch(forget);
}
async function endTransaction(how) {
  const open = inTransaction;
  inTransaction = false;
  if (how === 'commit') {
    if (open) {
      await command((done) => connection.query('COMMIT', done)).catch((error) => {
        ids.clear(); // nothing of the transaction was kept
        forget(error);
      });
    }
    return;
  }
  if (!open) return; // also the end that follows every commit: ids are kept across commits
  ids.clear();
  if (connection === undefined) return;
  try {
    await command((done) => connection.query('ROLLBACK', done));
  } catch {
    // The connection is gone: nothing was committed either way.
    connection = undefined;
  }
}
async function closeConnection() {
  if (connection === undefined) return;
  const c = connection;
  connection = undefined;
  await command((done) => c.end(done)).catch(() => c.destroy());
}
connect();
${WORKER_LOOP_SOURCE}
`;

/** mysql2's connection options for the thread's connection (the pool's, from knex.ts), and the SQL each session begins with. */
export interface MysqlWriterSettings {
  connection: Record<string, unknown>;
  sessionSql: string;
  /** The thread's young generation, when memory matters more than speed (lean-memory imports). */
  youngGenerationMb?: number | undefined;
}

/** One MySQL/MariaDB connection, writing on its own thread. */
export class MysqlWriter extends StatementWriter {
  constructor(settings: MysqlWriterSettings) {
    const driver = createRequire(import.meta.url).resolve('mysql2');
    // Ids come back as numbers, bound as numbers (BIGINT ids stay far below 2^53).
    const connection = { ...settings.connection, supportBigNumbers: true, bigNumberStrings: false };
    const limits =
      settings.youngGenerationMb === undefined ? undefined : { maxYoungGenerationSizeMb: settings.youngGenerationMb };
    super(WORKER_SOURCE, { connection, sessionSql: settings.sessionSql, driver }, 'MySQL writer', limits);
  }
}
