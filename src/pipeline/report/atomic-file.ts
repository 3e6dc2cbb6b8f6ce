/**
 * Writing a report so that a reader (a person, the archive step, a test) never sees half a file:
 * write `<target>.tmp`, flush it to disk, then rename over the target. Reports hold usernames and
 * personal data, so the file is created owner-only (0o600).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { UsersyncError, fail } from '../../errors.js';

/** File mode of every report: they name people, so nobody but the service account reads them. */
export const REPORT_FILE_MODE = 0o600;

/**
 * Runs `write` against a fresh `<filePath>.tmp`, then fsyncs it and renames it to `filePath`,
 * replacing a file already there (callers that must not overwrite choose a free name first, see
 * `index.ts`). `write` may instead let a stream created with `handle.createWriteStream({ flush:
 * true })` sync and close the handle. The file gets `mode` (default owner-only). On any failure
 * the temp file is removed and the error rethrown; a Node I/O error (ENOSPC, EACCES) becomes
 * `FS_IO_FAILED`.
 */
export async function writeAtomically(
  filePath: string,
  write: (handle: FileHandle) => Promise<void>,
  mode: number = REPORT_FILE_MODE,
): Promise<void> {
  const tmpPath = `${filePath}.tmp`;
  let handle: FileHandle;
  try {
    handle = await fsp.open(tmpPath, 'w', mode);
  } catch (cause) {
    throw fail('FS_IO_FAILED', { message: `Cannot create ${tmpPath}.`, cause });
  }
  try {
    // A stale .tmp left by a crash keeps its old mode when reopened with 'w': tighten it again.
    await handle.chmod(mode);
    await write(handle);
    // A stream made with `handle.createWriteStream({ flush: true })` has already synced and closed it.
    if (handle.fd !== -1) {
      await handle.sync();
      await handle.close();
    }
    await fsp.rename(tmpPath, filePath);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fsp.rm(tmpPath, { force: true }).catch(() => undefined);
    // Node's I/O errors carry `syscall`; anything else (a bug, a UsersyncError) passes through.
    if (error instanceof UsersyncError || !(error instanceof Error) || !('syscall' in error)) throw error;
    throw fail('FS_IO_FAILED', { message: `Cannot write ${filePath}.`, cause: error });
  }
}

/**
 * Buffers text and writes it to a file handle in large chunks: one `write` syscall per ~64 KiB
 * instead of one per row, and each `push` awaits the disk when a chunk goes out, so memory stays
 * flat however many rows are written.
 */
export class ChunkedTextWriter {
  private buffer: string[] = [];
  private bufferedChars = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly chunkChars = 64 * 1024,
  ) {}

  /** Appends text, or bytes (written straight after the text before them); writes the buffer out once it is large enough. */
  async push(text: string | Uint8Array): Promise<void> {
    if (typeof text !== 'string') {
      await this.flush();
      // A write may take fewer bytes than given: go on from where it stopped.
      for (let offset = 0; offset < text.length;) offset += (await this.handle.write(text, offset)).bytesWritten;
      return;
    }
    this.buffer.push(text);
    this.bufferedChars += text.length;
    if (this.bufferedChars >= this.chunkChars) await this.flush();
  }

  /** Writes whatever is buffered. */
  async flush(): Promise<void> {
    if (this.bufferedChars === 0) return;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.bufferedChars = 0;
    await this.handle.write(chunk, null, 'utf8');
  }
}
