/**
 * The checked plan, on disk between the two passes of a guarded import (plan.ts): every prepared
 * batch — validated rows, their users as stored, passwords already hashed — appended as it is
 * planned and read back, in order, to be applied. Reading the file twice would cost the reader's
 * whole time again (SPEC §9 allows 1.25 ×); a batch read back costs a decryption and a
 * deserialisation.
 *
 * A batch holds password hashes and the raw cells of failed rows (a Password cell among them), so
 * the file is encrypted as the reader's spilled strings are (xlsx/sheet/compact-strings.ts):
 * AES-256-CTR with a key that exists only in this process's memory, in a private temporary folder
 * removed when the import ends. A process killed in between leaves bytes nobody can read.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { AppliedRow } from './change-set.js';
import type { PreparedBatch } from './prepare.js';

/**
 * One planned batch: whole, with the usernames it creates or changes (the ones checked again
 * before writing), or — when it writes nothing — only its report rows (plan.ts planBatch).
 */
export type PlannedBatch = { batch: PreparedBatch; changing: string[] } | { rows: AppliedRow[] };

const CIPHER = 'aes-256-ctr';
/** Length (4 bytes) and counter block (16) before each record. */
const HEADER_BYTES = 20;

export class PlanSpool {
  private readonly key = randomBytes(32);
  private handle: FileHandle | undefined;
  private end = 0;
  private dir: string | undefined;
  /** Batches appended; kept for the reader, which stops after the last. */
  private records = 0;

  private constructor(private readonly tmpRoot: string) {}

  static create(tmpRoot: string): PlanSpool {
    return new PlanSpool(tmpRoot);
  }

  async append(planned: PlannedBatch): Promise<void> {
    const handle = await this.file();
    const plain = serialize(planned);
    const iv = randomBytes(16);
    const cipher = createCipheriv(CIPHER, this.key, iv);
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32LE(plain.byteLength, 0);
    iv.copy(header, 4);
    const record = Buffer.concat([header, cipher.update(plain), cipher.final()]);
    await handle.write(record, 0, record.byteLength, this.end);
    this.end += record.byteLength;
    this.records++;
  }

  /** Every batch appended, in order. */
  async *batches(): AsyncIterable<PlannedBatch> {
    if (this.records === 0) return;
    const handle = await this.file();
    let offset = 0;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    for (let i = 0; i < this.records; i++) {
      await readExactly(handle, header, offset);
      const length = header.readUInt32LE(0);
      const body = Buffer.allocUnsafe(length);
      await readExactly(handle, body, offset + HEADER_BYTES);
      offset += HEADER_BYTES + length;
      const decipher = createDecipheriv(CIPHER, this.key, header.subarray(4, HEADER_BYTES));
      yield deserialize(Buffer.concat([decipher.update(body), decipher.final()])) as PlannedBatch;
    }
  }

  /** Closes and removes the file; safe to call twice. */
  async dispose(): Promise<void> {
    const { handle, dir } = this;
    this.handle = undefined;
    this.dir = undefined;
    this.key.fill(0);
    await handle?.close().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }

  private async file(): Promise<FileHandle> {
    if (!this.handle) {
      this.dir = await mkdtemp(path.join(this.tmpRoot, 'usersync-plan-')); // 0700
      this.handle = await open(path.join(this.dir, 'plan.bin'), 'w+', 0o600);
    }
    return this.handle;
  }
}

async function readExactly(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const { bytesRead } = await handle.read(into, done, into.byteLength - done, position + done);
    if (bytesRead === 0) throw new Error('the plan spool ended early');
    done += bytesRead;
  }
}
