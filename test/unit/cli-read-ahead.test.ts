import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fixtureDir } from '../fixtures/workbooks.js';

// The readers are stand-ins: what is tested is which file is opened ahead, and when one is closed.
const opened: Array<{ file: string; close: ReturnType<typeof vi.fn> }> = [];
vi.mock('../../src/pipeline/read/index.js', () => ({
  openSpreadsheet: async (file: string) => {
    const reader = { file, close: vi.fn(async () => undefined) };
    opened.push(reader);
    return reader;
  },
}));
const { readAheadFromArgv, releaseReadAhead, takeReadAhead } = await import('../../src/cli/read-ahead.js');

let fx: Awaited<ReturnType<typeof fixtureDir>>;
let a: string;
let b: string;
beforeAll(async () => {
  fx = await fixtureDir();
  a = fx.path('a.xlsx');
  b = fx.path('b.xlsx');
  await writeFile(a, 'not read: the reader is a stand-in');
  await writeFile(b, 'not read either');
});
afterAll(() => fx.cleanup());
beforeEach(() => {
  releaseReadAhead();
  opened.length = 0;
});

// A read-ahead loads the configuration and stats the file before it opens: on a loaded machine
// that can take far longer than a few milliseconds, so what must happen is waited for.
const WAIT = { timeout: 10_000, interval: 10 };
// Only for what must not happen: time enough for a read-ahead that wrongly began to show.
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('read-ahead: the first file of `usersync import` opened before the CLI loads', () => {
  it('opens the file argv names, and hands that reader to the import of the same file', async () => {
    readAheadFromArgv(['--log-level', 'warn', 'import', '--dry-run', '--report-dir', 'out', a, b]);
    await vi.waitFor(() => expect(opened.map((r) => r.file)).toEqual([a]), WAIT);
    const reader = await takeReadAhead(path.relative(process.cwd(), a), undefined);
    expect(reader).toBe(opened[0]);
    expect(opened).toHaveLength(1);
    expect(opened[0]?.close).not.toHaveBeenCalled();
  });

  it('knows valued options written with =', async () => {
    readAheadFromArgv(['--log-level=warn', 'import', '--report-dir=out', '--no-json', a]);
    await vi.waitFor(() => expect(opened.map((r) => r.file)).toEqual([a]), WAIT);
  });

  it('closes the reader read ahead when yargs names another file or config, and opens the right one', async () => {
    readAheadFromArgv(['import', a]);
    const reader = await takeReadAhead(b, undefined);
    const of = (file: string) => opened.filter((r) => r.file === file);
    await vi.waitFor(() => expect(of(a)[0]?.close).toHaveBeenCalledOnce(), WAIT);
    expect(opened).toHaveLength(2);
    expect(reader).toBe(of(b)[0]);
    expect(of(a)[0]?.close).toHaveBeenCalledOnce();
    expect(of(b)[0]?.close).not.toHaveBeenCalled();

    opened.length = 0;
    await writeFile(fx.path('config.json'), '{}');
    readAheadFromArgv(['import', `--config=${fx.path('config.json')}`, a]);
    await vi.waitFor(() => expect(opened).toHaveLength(1), WAIT);
    const taken = await takeReadAhead(a, undefined); // no --config in yargs' parse: another configuration
    await vi.waitFor(() => expect(opened[0]?.close).toHaveBeenCalledOnce(), WAIT);
    expect(opened).toHaveLength(2);
    expect(opened[0]?.close).toHaveBeenCalledOnce();
    expect(taken).toBe(opened[1]);
  });

  it('reads nothing ahead for what a quick look cannot be sure of, nor for other commands', async () => {
    for (const argv of [
      ['import', '--', a],
      ['import', '--unknown', a],
      ['import', '-h', a],
      ['start'],
      ['import'],
      ['users', 'list', a],
      ['import', '--dryRun', a],
    ])
      readAheadFromArgv(argv);
    await settle();
    expect(opened).toEqual([]);
  });

  it('closes a reader nobody took (a usage error, --help) when the CLI is done', async () => {
    readAheadFromArgv(['import', a]);
    await vi.waitFor(() => expect(opened).toHaveLength(1), WAIT);
    releaseReadAhead();
    await vi.waitFor(() => expect(opened[0]?.close).toHaveBeenCalledOnce(), WAIT);
  });

  it('leaves files it should not open to the import (missing, empty)', async () => {
    await writeFile(fx.path('empty.xlsx'), '');
    readAheadFromArgv(['import', fx.path('empty.xlsx')]);
    expect(await takeReadAhead(fx.path('empty.xlsx'), undefined)).toBeUndefined();
    readAheadFromArgv(['import', fx.path('missing.xlsx')]);
    expect(await takeReadAhead(fx.path('missing.xlsx'), undefined)).toBeUndefined();
    expect(opened).toEqual([]);
  });
});
