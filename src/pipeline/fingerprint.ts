/**
 * sha256 and size of a file, streamed (a 100 MB file never sits in memory). The register keeps
 * both; `imports recover` checks the archived copy against them.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { fail } from '../errors.js';

export interface Fingerprint {
  sha256: string;
  bytes: number;
}

export async function fingerprintFile(filePath: string): Promise<Fingerprint> {
  let handle;
  try {
    handle = await open(filePath, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR')
      throw fail('FILE_NOT_FOUND', { message: `${filePath} does not exist.`, cause });
    throw fail('FS_IO_FAILED', { message: `Cannot open ${filePath} (${code ?? 'error'}).`, cause });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw fail('FILE_NOT_FOUND', { message: `${filePath} is not a regular file.` });
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), bytes };
  } catch (cause) {
    if ((cause as { kind?: string }).kind) throw cause;
    throw fail('FS_IO_FAILED', { message: `Cannot read ${filePath}.`, cause });
  } finally {
    await handle.close();
  }
}
