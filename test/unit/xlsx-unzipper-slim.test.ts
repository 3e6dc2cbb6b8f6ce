import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireFromExceljs } from '../../src/xlsx/exceljs-require.js';
import { parseWords } from '../../src/xlsx/patches/unzipper-slim.js';
import { fixtureDir, writeUsers } from '../fixtures/workbooks.js';

let fx: Awaited<ReturnType<typeof fixtureDir>>;
beforeAll(async () => (fx = await fixtureDir()));
afterAll(() => fx.cleanup());

/** The real `binary` 0.3.0, as unzipper loads it (this process loaded exceljs whole). */
const binary = createRequire(requireFromExceljs.resolve('unzipper'))('binary') as {
  parse(buffer: Buffer): Record<string, (name: string) => unknown> & { vars: unknown };
};

type Step = ['word8lu' | 'word16lu' | 'word32lu' | 'word64lu', string];
/** The reads unzipper's Parse makes: a local file header, and a zip64 extra field. */
const LOCAL_HEADER: Step[] = [
  ['word16lu', 'versionsNeededToExtract'],
  ['word16lu', 'flags'],
  ['word16lu', 'compressionMethod'],
  ['word16lu', 'lastModifiedTime'],
  ['word16lu', 'lastModifiedDate'],
  ['word32lu', 'crc32'],
  ['word32lu', 'compressedSize'],
  ['word32lu', 'uncompressedSize'],
  ['word16lu', 'fileNameLength'],
  ['word16lu', 'extraFieldLength'],
];
const ZIP64_EXTRA: Step[] = [
  ['word16lu', 'signature'],
  ['word16lu', 'partsize'],
  ['word64lu', 'uncompressedSize'],
  ['word64lu', 'compressedSize'],
  ['word64lu', 'offset'],
  ['word64lu', 'disknum'],
  ['word8lu', 'tail'],
];

function run(parser: { vars: unknown }, steps: Step[]): unknown {
  let at = parser as unknown as Record<string, (name: string) => unknown> & { vars: unknown };
  for (const [method, name] of steps) at = at[method]!(name) as typeof at;
  return at.vars;
}

describe('unzipper-slim: parseWords', () => {
  it('reads every word as binary.parse does, including past the end of a short buffer', () => {
    let seed = 7;
    const byte = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16) & 0xff;
    for (const length of [0, 1, 3, 8, 13, 25, 26, 27, 30, 36, 40]) {
      for (let trial = 0; trial < 20; trial++) {
        const buffer = Buffer.from(Array.from({ length }, byte));
        if (trial === 0) buffer.fill(0xff); // the largest values: 0xffffffff marks zip64 sizes
        for (const steps of [LOCAL_HEADER, ZIP64_EXTRA]) {
          expect(run(parseWords(buffer), steps)).toEqual(run(binary.parse(buffer), steps));
        }
      }
    }
  });
});

describe('unzipper-slim: loadSlimUnzipper', () => {
  it('gives exceljs an unzipper with Parse alone, without binary’s polyfills, that still reads a workbook', async () => {
    const file = await writeUsers(fx.path('users.xlsx'), [
      ['Username', 'Name'],
      ['ann', 'Ann Lee'],
      ['bob', 'Bob Ray'],
    ]);
    // A fresh process: this one has already loaded unzipper whole.
    const script = `
      import { loadSlimUnzipper } from ${JSON.stringify(new URL('../../src/xlsx/patches/unzipper-slim.ts', import.meta.url).href)};
      import { requireFromExceljs } from ${JSON.stringify(new URL('../../src/xlsx/exceljs-require.ts', import.meta.url).href)};
      loadSlimUnzipper();
      const WorkbookReader = requireFromExceljs('exceljs/lib/stream/xlsx/workbook-reader.js');
      const rows = [];
      for await (const sheet of new WorkbookReader(${JSON.stringify(file)}, { sharedStrings: 'cache', worksheets: 'emit' }))
        for await (const row of sheet) rows.push(row.values.slice(1));
      const loaded = Object.keys(requireFromExceljs.cache);
      console.log(JSON.stringify({
        exports: Object.keys(requireFromExceljs('unzipper')),
        chainsaw: loaded.some((p) => p.includes('/chainsaw/')),
        traverse: loaded.some((p) => p.includes('/traverse/')),
        rows,
      }));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)) },
    );
    expect(JSON.parse(stdout)).toEqual({
      exports: ['Parse'],
      chainsaw: false,
      traverse: false,
      rows: [
        ['Username', 'Name'],
        ['ann', 'Ann Lee'],
        ['bob', 'Bob Ray'],
      ],
    });
  });
});
