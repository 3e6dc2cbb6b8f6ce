import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../src/cli/output.js';

/** A stdout whose reader has gone away after `accepts` writes, or that fails another way. */
function closingStream(accepts: number, code = 'EPIPE') {
  const written: string[] = [];
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      if (written.length >= accepts) callback(Object.assign(new Error(`write ${code}`), { code }));
      else {
        written.push(chunk.toString());
        callback();
      }
    },
  });
  return { stream, written };
}

describe('command output', () => {
  it('drops what is left once the reader has gone away (EPIPE), without failing the command', async () => {
    const { stream, written } = closingStream(2);
    const out = createOutput(stream);
    for (let i = 0; i < 5; i++) await out.write(`line ${i}\n`);
    await out.json({ after: 'the pipe closed' });
    expect(written).toEqual(['line 0\n', 'line 1\n']);
  });

  it('still fails on any other write error', async () => {
    const { stream } = closingStream(1, 'EIO');
    const out = createOutput(stream);
    await out.write('first\n');
    await expect(async () => {
      for (let i = 0; i < 3; i++) await out.write(`more ${i}\n`);
    }).rejects.toThrow(/EIO/);
  });
});
