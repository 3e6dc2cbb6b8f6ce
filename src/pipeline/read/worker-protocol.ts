/**
 * Messages between the main thread and the xlsx worker. Rows travel in batches, and the worker
 * may run at most MAX_BATCHES_AHEAD batches ahead of the consumer (a credit per consumed batch),
 * so memory stays flat however long the file is.
 */
import type { RawRow } from '../../domain/columns.js';
import type { ErrorCode } from '../../errors.js';
import type { SheetHeader } from './types.js';

/** Batches the worker may send before the consumer has taken them. */
export const MAX_BATCHES_AHEAD = 4;

/** `workerData` of the xlsx worker. */
export interface WorkerInput {
  readonly filePath: string;
  readonly settings: {
    readonly maxRows: number;
    readonly maxEmptyRows: number;
    readonly maxCellChars: number;
    readonly headerAliases: Record<string, string>;
  };
}

/** Worker → main. */
export type WorkerMessage =
  | { readonly type: 'header'; readonly header: Omit<SheetHeader, 'format'> }
  | { readonly type: 'rows'; readonly rows: RawRow[] }
  | { readonly type: 'warning'; readonly text: string }
  | { readonly type: 'end' }
  | { readonly type: 'fail'; readonly code: ErrorCode; readonly message: string; readonly details?: Record<string, unknown> };

/** Main → worker: the consumer took one batch. */
export interface CreditMessage {
  readonly type: 'credit';
}

/** Main → worker: stop now (the worker exits from its event loop; see xlsx-reader.ts). */
export interface StopMessage {
  readonly type: 'stop';
}

export type MainMessage = CreditMessage | StopMessage;
