/**
 * Main-thread side of the xlsx reader: starts the worker with a heap limit and its own temp
 * directory, watches the clock, turns worker failures into FileErrors, hands batches on with
 * backpressure, and removes the temp directory however the worker ends (PITFALLS §3.8, §3.9).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RawRow } from '../../domain/columns.js';
import { fail, type UsersyncError } from '../../errors.js';
import { BatchQueue, Watchdog } from './batch-queue.js';
import { LEAN_WORKER_YOUNG_GENERATION_MB } from '../memory-mode.js';
import { isSystemIoError, readerIoFailure } from '../xlsx-errors.js';
import type { ReadSettings, SheetHeader, SpreadsheetReader } from '../../pipeline/read/types.js';
import { noDataRows } from '../../pipeline/read/row-sink.js';
import {
  MAX_BATCHES_AHEAD,
  decodeRows,
  type CreditMessage,
  type StopMessage,
  type WorkerInput,
  type WorkerMessage,
} from './worker-protocol.js';

/** Prefix of each parse's temp directory under os.tmpdir(). */
export const TEMP_PREFIX = 'usersync-xlsx-';

/** Starts the worker for a sniffed .xlsx/.xlsm; resolves once its header row is known. */
export async function openXlsx(
  filePath: string,
  settings: ReadSettings,
  options: { lean?: boolean } = {},
): Promise<SpreadsheetReader> {
  const tempDir = await mkdtemp(join(tmpdir(), TEMP_PREFIX));
  const worker = startWorker(filePath, settings, tempDir, options.lean === true);
  // Batches wait here as their JSON text and are decoded when taken: one string each for the
  // collector instead of a batch of row objects that may outlive young-generation GCs.
  const queue = new BatchQueue<string>();
  let settled = false; // the worker ended, failed or was stopped: later events are noise
  let resolveHeader!: (header: SheetHeader) => void;
  let rejectHeader!: (error: unknown) => void;
  const headerPromise = new Promise<SheetHeader>(
    (resolve, reject) => ((resolveHeader = resolve), (rejectHeader = reject)),
  );
  let header: SheetHeader | undefined;

  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      finish(fail('FILE_PARSE_FAILED', { message: `The workbook reader stopped unexpectedly (exit code ${code}).` }));
      // Whatever happened, the worker's temp files go (exceljs leaks them on abort: PITFALLS §3.8).
      void rm(tempDir, { recursive: true, force: true, maxRetries: 3 }).finally(resolve);
    });
  });

  const finish = (error?: UsersyncError): void => {
    if (settled) return;
    settled = true;
    watchdog.stop();
    if (error === undefined) queue.end();
    else {
      queue.fail(error);
      rejectHeader(error);
    }
    stop(worker);
  };

  const watchdog = new Watchdog(settings.parseTimeoutMs, () =>
    finish(
      fail('FILE_PARSE_TIMEOUT', {
        message: `Reading the workbook took longer than import.parseTimeoutMs (${settings.parseTimeoutMs} ms), so it was stopped.`,
      }),
    ),
  );

  worker.on('message', (message: WorkerMessage) => {
    if (settled) return;
    switch (message.type) {
      case 'header':
        header = { format: 'xlsx', ...message.header };
        resolveHeader(header);
        break;
      case 'rows':
        queue.push(message.json);
        // The worker now waits for the consumer: that time is not parsing time.
        if (queue.length >= MAX_BATCHES_AHEAD) watchdog.pause();
        break;
      case 'warning':
        header?.warnings.push(message.text);
        break;
      case 'end':
        finish();
        break;
      case 'fail':
        finish(fail(message.code, { message: message.message, details: message.details }));
        break;
    }
  });
  worker.on('error', (error: Error & { code?: string }) => {
    finish(
      isSystemIoError(error)
        ? // exceljs' own temp-file streams fail this way when the disk is full: the worker dies, not the file's fault.
          readerIoFailure(error)
        : error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? fail('FILE_PARSE_OUT_OF_MEMORY', {
              message: `Reading the workbook needed more than import.workerMemoryMb (${settings.workerMemoryMb} MB) of memory, so it was stopped.`,
              cause: error,
            })
          : isModuleLoadError(error)
            ? // Not the file's fault: usersync's own files are missing or half-written (an install or a
              // build running at the same time). Seen in the corpus test while dist/ was rebuilt.
              fail('FS_IO_FAILED', {
                message: `The workbook reader could not start (${error.message.split('\n')[0]?.slice(0, 200) ?? ''}): usersync's installation is incomplete or being replaced.`,
                cause: error,
              })
            : fail('FILE_PARSE_FAILED', {
                message: `The workbook reader crashed: ${error.message.split('\n')[0]?.slice(0, 200) ?? ''}`,
                cause: error,
              }),
    );
  });

  const close = async (): Promise<void> => {
    finish(fail('FILE_PARSE_FAILED', { message: 'Reading was stopped.' }));
    await exited;
  };

  try {
    await headerPromise;
  } catch (error) {
    await close();
    throw error;
  }
  let iterated = false;
  return {
    header: header!,
    close,
    async *batches(): AsyncGenerator<RawRow[]> {
      if (iterated) throw new Error('SpreadsheetReader.batches() can be iterated only once');
      iterated = true;
      try {
        let rows = 0;
        for (;;) {
          const json = await queue.next();
          if (json === undefined) break;
          const batch = decodeRows(json);
          rows += batch.length;
          if (!settled) worker.postMessage({ type: 'credit' } satisfies CreditMessage);
          watchdog.resume();
          yield batch;
        }
        if (rows === 0) throw noDataRows(header!);
      } finally {
        await close();
      }
    },
  };
}

/** How long a worker asked to stop may take before it is terminated. */
const STOP_GRACE_MS = 2000;

/**
 * Asks the worker to exit from its own event loop, and terminates it only if it has not within
 * STOP_GRACE_MS (a parse stuck in a loop). worker.terminate() stops JavaScript wherever it is: if
 * that is between creating a zlib stream and initialising it (unzipper makes one per zip entry),
 * Node 20's worker cleanup fails an assertion ("close before init", node_zlib.cc) and aborts the
 * whole process — seen once in CI when a damaged file's worker was stopped right after it failed.
 */
function stop(worker: Worker): void {
  worker.postMessage({ type: 'stop' } satisfies StopMessage);
  const force = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
  force.unref();
  worker.once('exit', () => clearTimeout(force));
}

/** The worker's own code failed to load: a module missing or not matching its importer. */
function isModuleLoadError(error: Error & { code?: string }): boolean {
  return (
    error.code === 'ERR_MODULE_NOT_FOUND' ||
    error.code === 'ERR_UNKNOWN_FILE_EXTENSION' ||
    (error.name === 'SyntaxError' &&
      /does not provide an export named|Cannot use import statement|Unexpected end of input/.test(error.message))
  );
}

function startWorker(filePath: string, settings: ReadSettings, tempDir: string, lean: boolean): Worker {
  const input: WorkerInput = {
    filePath,
    settings: {
      maxRows: settings.maxRows,
      maxEmptyRows: settings.maxEmptyRows,
      maxCellChars: settings.maxCellChars,
      headerAliases: settings.headerAliases,
    },
  };
  return new Worker(workerEntry(), {
    eval: import.meta.url.endsWith('.ts'),
    workerData: input,
    execArgv: [],
    // exceljs (through `tmp`) writes sheet XML to os.tmpdir(), which reads TMPDIR on every call.
    env: { ...process.env, TMPDIR: tempDir, TMP: tempDir, TEMP: tempDir },
    resourceLimits: {
      maxOldGenerationSizeMb: settings.workerMemoryMb,
      ...(lean ? { maxYoungGenerationSizeMb: LEAN_WORKER_YOUNG_GENERATION_MB } : {}),
    },
  });
}

/**
 * The worker's entry: the compiled `xlsx-worker.js` next to this file, or, when this module is
 * TypeScript (vitest, `tsx`), a bootstrap that loads `xlsx-worker.ts` through tsx's API.
 * `execArgv: ['--import', 'tsx']` does NOT work on Node 20: module hooks do not reach worker
 * threads there ("Unknown file extension .ts"; verified on 20.20.2).
 */
function workerEntry(): URL | string {
  if (!import.meta.url.endsWith('.ts')) return new URL('./xlsx-worker.js', import.meta.url);
  // The package's `require` condition points at the .cjs build, whose register() breaks in a worker.
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const worker = new URL('./xlsx-worker.ts', import.meta.url).href;
  return `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(worker)}, ${JSON.stringify(import.meta.url)}));`;
}
