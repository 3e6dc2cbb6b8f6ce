/**
 * SQLite's WAL checkpoints on a thread of their own, while an import writes.
 *
 * In WAL mode a commit appends pages to the -wal file; every 1,000 pages the committing
 * connection copies them back into the database and fsyncs both files (the "auto-checkpoint").
 * better-sqlite3 is synchronous, so that copy and those fsyncs stopped the import's thread:
 * 11 COMMITs of a 100k-row first load took 0.49 s, of which 0.34 s were checkpoints. A second
 * connection in a worker thread runs PASSIVE checkpoints instead (they never wait for, nor block,
 * the writer), and the import's connection only checkpoints itself past AUTO_CHECKPOINT_PAGES, a
 * safety net should this thread fall behind or stop. Measured with it: COMMITs 0.16 s, the
 * checkpoints' 0.47 s on the other thread, the closing checkpoint 11 → 22 ms.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logging/logger.js';

/** The import's connection checkpoints itself only past this many WAL pages (40 MB). */
export const AUTO_CHECKPOINT_PAGES = 10_000;

/** How often the worker looks for new commits (`PRAGMA data_version`, a read of shared memory). */
const POLL_MS = 100;

/**
 * The worker, as CommonJS source: one connection, a timer, a checkpoint when another connection
 * has committed since the last look. `stop` closes the connection before the thread ends, so the
 * import's connection is the last one and its close still folds the WAL into the database.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.filename, { fileMustExist: true });
db.pragma('busy_timeout = 0');
let seen; // the first look checkpoints what was committed while this thread started
const timer = setInterval(() => {
  try {
    const version = db.pragma('data_version', { simple: true });
    if (version === seen) return;
    seen = version;
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // Another connection holding the whole file for a moment (an exclusive locking mode, WAL
    // recovery): look again at the next tick rather than end the thread for good.
    if (error.code !== 'SQLITE_BUSY' && error.code !== 'SQLITE_LOCKED') throw error;
    seen = undefined;
  }
}, workerData.pollMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  /** Closes the worker's connection and ends the thread; never throws. */
  stop(): Promise<void>;
}

/** Starts checkpointing `filename` (an existing SQLite database in WAL mode) from a worker thread. */
export function startWalCheckpointer(filename: string, logger: Logger): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { filename, driver, pollMs: POLL_MS },
    execArgv: [],
  });
  // Never what keeps a process alive: whoever opened the database stops it on the way out.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', (error) => {
    // The import's connection checkpoints itself past AUTO_CHECKPOINT_PAGES: nothing is lost.
    logger.warn('db.checkpointer.failed', { err: { name: error.name, message: error.message } });
  });
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        worker.postMessage('stop');
        await exited;
      })();
      return stopping;
    },
  };
}
