/**
 * Seeded random mutations of valid workbooks and CSVs through the real `usersync import`: bit
 * flips, truncations, spliced/duplicated/removed zip entries, oversized and malformed XML in the
 * sheet, shared strings and workbook parts, and CSVs in odd encodings. Each must end imported or
 * rejected with a clear FILE_ message — never exit 3, a crash, a hang, 1 GB, crash text on stderr
 * or a temp file left behind (the same property as the corpus, helpers/import-batch.ts).
 *
 * Reproducible: the base seed is USERSYNC_FUZZ_SEED (default below) and is printed; every case has
 * its own seed, printed when it fails, and USERSYNC_FUZZ_REPLAY=<seed>[,<seed>…] runs only those.
 * USERSYNC_FUZZ_CASES sets how many cases to run (default 240).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import JSZip from 'jszip';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeWorkdir } from '../helpers/cli.js';
import { problemsOf, runImportBatches, runProblems } from '../helpers/import-batch.js';
import { TEMPLATE, userRow, writeXlsx } from '../fixtures/build.js';
import { inlineCell, writeCraftedXlsx, writeWorkbook } from '../fixtures/workbooks.js';

const DEFAULT_SEED = 20261124;
const BASE_SEED = Number(process.env.USERSYNC_FUZZ_SEED ?? DEFAULT_SEED) >>> 0;
const CASES = Number(process.env.USERSYNC_FUZZ_CASES ?? 240);
const REPLAY = (process.env.USERSYNC_FUZZ_REPLAY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '')
  .map((s) => Number(s) >>> 0);
const MAX_RSS_MB = 1024;

// ── A seeded PRNG (mulberry32) and the few draws the mutators need ────────────────────────────

type Rng = () => number;

function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const between = (rng: Rng, lo: number, hi: number): number => lo + int(rng, hi - lo + 1);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

// ── Base inputs ─────────────────────────────────────────────────────────────────────────────

interface Bases {
  /** Written by exceljs: shared strings, styles, workbook.xml last. */
  xlsx: Buffer;
  /** Hand-written OOXML: inline strings and a small shared-strings part. */
  crafted: Buffer;
  /** Two sheets, the user list on the second. */
  twoSheets: Buffer;
  csv: string;
}

const PEOPLE = [
  ['Ana Lima', 'ana', 'Sales', 'ana@example.com', '5511987654321', 'Yes', 'No'],
  ['Bo Chen', 'bo.chen', 'IT', 'bo@example.com', '00123', 'No', 'Yes'],
  ['José Ñúñez', 'josé', 'Finanças', 'jose@example.com', '+55 11 9999-0000', 'Sim', 'Não'],
  ['Chloé Dupont', 'chloe', 'HR', '', '', '', ''],
  ['Dan O’Neil', 'dan_o', 'Sales', 'dan@example.com', '555-0100', 'TRUE', 'FALSE'],
  ['Eve', 'eve@corp', '', 'eve@example.com', '', '1', '0'],
] as const;

function userRows(): string[][] {
  const rows: string[][] = [];
  for (let i = 0; i < 12; i++) {
    const [name, username, department, email, phone, active, mfa] = PEOPLE[i % PEOPLE.length]!;
    rows.push(
      userRow({
        name,
        username: i < PEOPLE.length ? username : `${username}${i}`,
        department,
        email,
        phone,
        active,
        ignoreMfa: mfa,
        password: i % 4 === 0 ? 'correct horse battery' : '',
      }).map((c) => String(c ?? '')),
    );
  }
  return rows;
}

async function buildBases(dir: string): Promise<Bases> {
  const rows = userRows();
  const xlsx = await writeXlsx(path.join(dir, 'base.xlsx'), [TEMPLATE, ...rows]);
  const sheetData =
    `<row r="1">${TEMPLATE.map((h, c) => inlineCell(`${String.fromCharCode(65 + c)}1`, h)).join('')}</row>` +
    rows
      .map(
        (r, i) =>
          `<row r="${i + 2}">${r.map((v, c) => (c === 1 ? `<c r="B${i + 2}" t="s"><v>${i}</v></c>` : v === '' ? '' : inlineCell(`${String.fromCharCode(65 + c)}${i + 2}`, escapeXml(v)))).join('')}</row>`,
      )
      .join('');
  const crafted = await writeCraftedXlsx(
    path.join(dir, 'crafted.xlsx'),
    sheetData,
    rows.map((r) => escapeXml(r[1]!)),
  );
  const twoSheets = await writeWorkbook(path.join(dir, 'two.xlsx'), [
    { name: 'Read me', rows: [['Notes'], ['see the next sheet']] },
    { name: 'Users', rows: [TEMPLATE, ...rows] },
  ]);
  const csv =
    [TEMPLATE, ...rows]
      .map((r) => r.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(','))
      .join('\r\n') + '\r\n';
  writeFileSync(path.join(dir, 'base.csv'), csv);
  return { xlsx: readFileSync(xlsx), crafted: readFileSync(crafted), twoSheets: readFileSync(twoSheets), csv };
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// ── Mutators ────────────────────────────────────────────────────────────────────────────────

interface Case {
  bytes: Buffer;
  ext: 'xlsx' | 'csv';
  what: string;
}

type Mutator = (rng: Rng, bases: Bases) => Promise<Case> | Case;

const anyZip = (rng: Rng, bases: Bases): Buffer => pick(rng, [bases.xlsx, bases.xlsx, bases.crafted, bases.twoSheets]);

function bitFlips(rng: Rng, input: Buffer): { bytes: Buffer; what: string } {
  const bytes = Buffer.from(input);
  const n = between(rng, 1, 24);
  for (let i = 0; i < n; i++) {
    const at = int(rng, bytes.length);
    bytes[at] = bytes[at]! ^ (1 << int(rng, 8));
  }
  return { bytes, what: `${n} bit flips` };
}

function overwriteRun(rng: Rng, input: Buffer): { bytes: Buffer; what: string } {
  const bytes = Buffer.from(input);
  const length = between(rng, 1, 64);
  const at = int(rng, Math.max(1, bytes.length - length));
  for (let i = 0; i < length && at + i < bytes.length; i++) bytes[at + i] = int(rng, 256);
  return { bytes, what: `${length} random bytes at ${at}` };
}

function truncate(rng: Rng, input: Buffer): { bytes: Buffer; what: string } {
  const at = between(rng, 1, input.length - 1);
  return { bytes: input.subarray(0, at), what: `cut at ${at} of ${input.length}` };
}

/** Central-directory records: [offset of the record, name]. */
function centralRecords(bytes: Buffer): Array<{ at: number; name: string }> {
  const records: Array<{ at: number; name: string }> = [];
  for (let i = 0; i + 46 <= bytes.length; i++) {
    if (bytes.readUInt32LE(i) !== 0x02014b50) continue;
    const nameLength = bytes.readUInt16LE(i + 28);
    records.push({ at: i, name: bytes.subarray(i + 46, i + 46 + nameLength).toString('utf8') });
  }
  return records;
}

/** A zip with the entries exactly as given (stored, no compression): duplicate names and any order allowed. */
function rawZip(entries: ReadonlyArray<readonly [string, Buffer]>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

async function zipEntries(bytes: Buffer): Promise<Array<[string, Buffer]>> {
  const zip = await JSZip.loadAsync(bytes);
  const out: Array<[string, Buffer]> = [];
  for (const file of Object.values(zip.files)) if (!file.dir) out.push([file.name, await file.async('nodebuffer')]);
  return out;
}

const deflate = async (entries: ReadonlyArray<readonly [string, Buffer | string]>): Promise<Buffer> => {
  const zip = new JSZip();
  for (const [name, data] of entries) zip.file(name, data);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
};

/** The XML parts the reader cares about most. */
const XML_TARGETS = [
  'xl/worksheets/sheet1.xml',
  'xl/worksheets/sheet1.xml',
  'xl/sharedStrings.xml',
  'xl/workbook.xml',
  'xl/_rels/workbook.xml.rels',
  '[Content_Types].xml',
  'xl/styles.xml',
];

/** Applies `edit` to one XML part of a base workbook (picked by the rng) and zips it again. */
async function editXml(
  rng: Rng,
  bases: Bases,
  label: string,
  edit: (xml: string, part: string) => string | Buffer,
): Promise<Case> {
  const entries = await zipEntries(anyZip(rng, bases));
  const names = entries.map(([n]) => n);
  const part = pick(
    rng,
    XML_TARGETS.filter((t) => names.includes(t)),
  );
  const index = names.indexOf(part);
  const edited = edit(entries[index]![1].toString('utf8'), part);
  entries[index] = [part, typeof edited === 'string' ? Buffer.from(edited, 'utf8') : edited];
  return { bytes: await deflate(entries), ext: 'xlsx', what: `${label} in ${part}` };
}

const NASTY_SNIPPETS = [
  '<',
  '>',
  '&',
  '&bogus;',
  '&#0;',
  '&#xD800;',
  ']]>',
  '<![CDATA[',
  '\u0001',
  '\uFFFE',
  '<?xml version="1.0"?>',
  '<!DOCTYPE x [<!ENTITY e "boom">]>',
  '</worksheet>',
  '</sheetData>',
  '<row>',
  '<row r="2">',
  '<c r="A1" t="s"><v>999999</v></c>',
  '<c r="A2" t="s"><v>-1</v></c>',
  '<c r="A2" t="s"><v>abc</v></c>',
  '<c r="A2" t="n"><v>1e400</v></c>',
  '<c r="A2" t="b"><v>2</v></c>',
  '<c r="A2" t="d"><v>not a date</v></c>',
  '<c r="A2" t="e"><v>#BOGUS!</v></c>',
  '<c r="A2"><f>1/0</f></c>',
  '<c t="s"><v>0</v></c>',
  '<sheet name="X" sheetId="9" r:id="rId99"/>',
  '<si><t>x</t></si>',
  '<si>',
  'xmlns:x="urn:x"',
  ' r="A0"',
  '\uD800',
];

const BAD_REFS = [
  '',
  '0',
  'A0',
  '-1',
  '1A',
  'A',
  'ZZZZ1',
  'XFE1',
  'A1048577',
  'A99999999999',
  'XFD1048576',
  'a2',
  ' A2',
  'A2 ',
  'A2:B3',
  '$A$2',
  'A1.5',
];

function entityBomb(depth: number): { doctype: string; ref: string } {
  let doctype = '<!DOCTYPE lolz [<!ENTITY lol0 "lol">';
  for (let i = 1; i <= depth; i++) doctype += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
  return { doctype: `${doctype}]>`, ref: `&lol${depth};` };
}

/** Inserts `doctype` after the XML declaration (or at the start). */
const withDoctype = (xml: string, doctype: string): string =>
  xml.startsWith('<?xml') ? xml.replace(/\?>/, `?>${doctype}`) : doctype + xml;

const XLSX_MUTATORS: ReadonlyArray<readonly [string, Mutator]> = [
  ['bit-flips', (rng, b) => ({ ...bitFlips(rng, anyZip(rng, b)), ext: 'xlsx' })],
  ['random-run', (rng, b) => ({ ...overwriteRun(rng, anyZip(rng, b)), ext: 'xlsx' })],
  ['truncate', (rng, b) => ({ ...truncate(rng, anyZip(rng, b)), ext: 'xlsx' })],
  [
    'splice-bytes',
    (rng, b) => {
      const first = anyZip(rng, b);
      const second = anyZip(rng, b);
      const cut1 = int(rng, first.length);
      const cut2 = int(rng, second.length);
      return {
        bytes: Buffer.concat([first.subarray(0, cut1), second.subarray(cut2)]),
        ext: 'xlsx',
        what: `first ${cut1} bytes + bytes from ${cut2} of another workbook`,
      };
    },
  ],
  [
    'declared-sizes',
    (rng, b) => {
      const bytes = Buffer.from(anyZip(rng, b));
      const records = centralRecords(bytes);
      const record = pick(rng, records);
      const size = pick(rng, [0, 1, 100, 0x7fffffff, 0xffffffff, int(rng, 0xffffffff)]);
      const field = pick(rng, [20, 24] as const); // compressed or uncompressed size
      bytes.writeUInt32LE(size >>> 0, record.at + field);
      return {
        bytes,
        ext: 'xlsx',
        what: `${field === 20 ? 'compressed' : 'uncompressed'} size of ${record.name} declared ${size}`,
      };
    },
  ],
  [
    'local-header',
    (rng, b) => {
      const bytes = Buffer.from(anyZip(rng, b));
      const locals: number[] = [];
      for (let i = 0; i + 30 <= bytes.length; i++) if (bytes.readUInt32LE(i) === 0x04034b50) locals.push(i);
      const at = pick(rng, locals);
      const field = pick(rng, [
        [8, 'method'],
        [26, 'name length'],
        [28, 'extra length'],
        [6, 'flags'],
      ] as const);
      bytes.writeUInt16LE(int(rng, 0x10000), at + field[0]);
      return { bytes, ext: 'xlsx', what: `local header ${field[1]} of entry at ${at} scrambled` };
    },
  ],
  [
    'remove-entry',
    async (rng, b) => {
      const entries = await zipEntries(anyZip(rng, b));
      const [name] = entries.splice(int(rng, entries.length), 1)[0]!;
      return { bytes: await deflate(entries), ext: 'xlsx', what: `without ${name}` };
    },
  ],
  [
    'duplicate-entry',
    async (rng, b) => {
      const entries = await zipEntries(anyZip(rng, b));
      const [name, data] = pick(rng, entries);
      const other = pick(rng, entries);
      const how = int(rng, 3);
      if (how === 0) {
        // The same name twice (only a raw zip can say that), the copy first or last.
        const copy: [string, Buffer] = [name, pick(rng, [data, other[1], Buffer.from('<x/>')])];
        return {
          bytes: rawZip(rng() < 0.5 ? [copy, ...entries] : [...entries, copy]),
          ext: 'xlsx',
          what: `${name} twice`,
        };
      }
      if (how === 1) {
        // Two entries swap contents (e.g. the sheet holds the shared strings).
        const i = entries.findIndex(([n]) => n === name);
        const j = entries.findIndex(([n]) => n === other[0]);
        [entries[i]![1], entries[j]![1]] = [entries[j]![1], entries[i]![1]];
        return { bytes: await deflate(entries), ext: 'xlsx', what: `${name} and ${other[0]} swapped` };
      }
      // A copy under a sheet name the workbook does not list.
      entries.push([
        pick(rng, [
          'xl/worksheets/sheet2.xml',
          'xl/worksheets/sheet0.xml',
          'xl/worksheets/sheet99999999999.xml',
          'xl/sharedStrings2.xml',
        ]),
        data,
      ]);
      return { bytes: await deflate(entries), ext: 'xlsx', what: `${name} copied under another name` };
    },
  ],
  [
    'reorder-stored',
    async (rng, b) => {
      const entries = await zipEntries(anyZip(rng, b));
      for (let i = entries.length - 1; i > 0; i--) {
        const j = int(rng, i + 1);
        [entries[i], entries[j]] = [entries[j]!, entries[i]!];
      }
      return {
        bytes: rawZip(entries),
        ext: 'xlsx',
        what: `entries stored in order ${entries.map(([n]) => n).join(' ')}`,
      };
    },
  ],
  [
    'splice-entries',
    async (rng, b) => {
      // Parts of two different workbooks in one zip: the first one's sheet, the other's strings.
      const first = await zipEntries(anyZip(rng, b));
      const second = new Map(await zipEntries(anyZip(rng, b)));
      const merged = first.map(([n, d]): [string, Buffer] => [n, rng() < 0.5 && second.has(n) ? second.get(n)! : d]);
      return { bytes: await deflate(merged), ext: 'xlsx', what: 'entries mixed from two workbooks' };
    },
  ],
  ['xml-truncate', (rng, b) => editXml(rng, b, 'truncated XML', (xml) => xml.slice(0, int(rng, xml.length)))],
  [
    'xml-drop-tag',
    (rng, b) =>
      editXml(rng, b, 'a tag removed', (xml) => {
        const tags = [...xml.matchAll(/<[^>]*>/g)];
        const tag = pick(rng, tags);
        return xml.slice(0, tag.index) + xml.slice(tag.index! + tag[0].length);
      }),
  ],
  [
    'xml-insert',
    (rng, b) => {
      const snippet = pick(rng, NASTY_SNIPPETS);
      return editXml(rng, b, `${JSON.stringify(snippet)} inserted`, (xml) => {
        const at = int(rng, xml.length);
        return xml.slice(0, at) + snippet + xml.slice(at);
      });
    },
  ],
  [
    'xml-entity-bomb',
    (rng, b) => {
      const bomb = entityBomb(between(rng, 3, 9));
      return editXml(rng, b, 'an entity bomb', (xml) =>
        withDoctype(xml, bomb.doctype).replace(/<t( [^>]*)?>/, (open) => `${open}${bomb.ref}`),
      );
    },
  ],
  [
    'xml-external-entity',
    (rng, b) =>
      editXml(rng, b, 'an external entity', (xml) =>
        withDoctype(xml, '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>').replace(
          /<t( [^>]*)?>/,
          (open) => `${open}&xxe;`,
        ),
      ),
  ],
  [
    'xml-oversized-text',
    (rng, b) => {
      const size = pick(rng, [40_000, 1_000_000, 4_000_000, 12_000_000]);
      const text = pick(rng, ['x', 'é', '&amp;', ' ']).repeat(size / 4);
      return editXml(rng, b, `a ${size}-character text`, (xml) => {
        const at = xml.search(/<\/t>|<\/v>/);
        return at < 0 ? xml.replace(/(<\/[^>]+>)$/, `<x>${text}</x>$1`) : xml.slice(0, at) + text + xml.slice(at);
      });
    },
  ],
  [
    'xml-oversized-attribute',
    (rng, b) =>
      editXml(rng, b, 'an oversized attribute', (xml) =>
        xml.replace(/<(\w[\w:]*)/, (open) => `${open} junk="${'a'.repeat(pick(rng, [100_000, 3_000_000]))}"`),
      ),
  ],
  [
    'xml-many-cells',
    async (rng, b) => {
      const rows = pick(rng, [5_000, 30_000, 120_000]);
      const cellsPerRow = pick(rng, [1, 3, 10]);
      const far = rng() < 0.5;
      const entries = await zipEntries(b.xlsx);
      const i = entries.findIndex(([n]) => n === 'xl/worksheets/sheet1.xml');
      const extra: string[] = [];
      for (let r = 0; r < rows; r++) {
        const rowNo = far ? 1_048_576 - rows + r + 1 : 14 + r;
        let cells = '';
        for (let c = 0; c < cellsPerRow; c++)
          cells += `<c r="${far ? 'XFD' : String.fromCharCode(65 + c)}${rowNo}"><v>${r}</v></c>`;
        extra.push(`<row r="${rowNo}">${cells}</row>`);
      }
      entries[i] = [
        entries[i]![0],
        Buffer.from(entries[i]![1].toString('utf8').replace('</sheetData>', `${extra.join('')}</sheetData>`)),
      ];
      return {
        bytes: await deflate(entries),
        ext: 'xlsx',
        what: `${rows}×${cellsPerRow} extra cells${far ? ' at the bottom right' : ''}`,
      };
    },
  ],
  [
    'xml-deep-nesting',
    (rng, b) => {
      const depth = pick(rng, [1_000, 50_000, 400_000]);
      return editXml(rng, b, `${depth} nested elements`, (xml) => {
        const at = xml.search(/<\/t>|<\/v>|<\/sheetData>|<\/sheets>/);
        const nest = '<r>'.repeat(depth) + '</r>'.repeat(depth);
        return at < 0 ? xml : xml.slice(0, at) + nest + xml.slice(at);
      });
    },
  ],
  [
    'xml-bad-refs',
    (rng, b) =>
      editXml(rng, b, 'bad cell/row references', (xml) => {
        let n = 0;
        return xml.replace(/ r="[^"]*"/g, (attr) => (rng() < 0.3 && ++n ? ` r="${pick(rng, BAD_REFS)}"` : attr));
      }),
  ],
  [
    'xml-bad-values',
    (rng, b) =>
      editXml(rng, b, 'bad cell values', (xml) =>
        xml.replace(/<v>[^<]*<\/v>/g, (v) =>
          rng() < 0.4
            ? `<v>${pick(rng, ['', '-1', '999999999', 'NaN', '1e999', 'abc', '0x10', '1.5', ' 3 ', '&#x1;'])}</v>`
            : v,
        ),
      ),
  ],
  [
    'xml-encoding',
    (rng, b) =>
      editXml(rng, b, 'odd encoding', (xml) => {
        switch (int(rng, 5)) {
          case 0:
            return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml.replace('UTF-8', 'UTF-16'), 'utf16le')]);
          case 1:
            return xml.replace(/encoding="UTF-8"/i, 'encoding="UTF-16"');
          case 2:
            return '\uFEFF' + xml;
          case 3:
            return Buffer.concat([
              Buffer.from(xml.slice(0, xml.length >> 1)),
              Buffer.from([0xc3, 0x28, 0xe9, 0xff, 0xfe]),
              Buffer.from(xml.slice(xml.length >> 1)),
            ]);
          default:
            return xml.replace(/encoding="UTF-8"/i, 'encoding="EBCDIC-XYZ"');
        }
      }),
  ],
  [
    'xml-namespace',
    (rng, b) =>
      editXml(rng, b, 'namespaces changed', (xml) =>
        rng() < 0.5
          ? xml.replace(/<(\/?)(\w+)([ >/])/g, '<$1s:$2$3').replace(/xmlns="/, 'xmlns:s="')
          : xml.replace(/ xmlns(:\w+)?="[^"]*"/g, ''),
      ),
  ],
  [
    'workbook-sheets',
    async (rng, b) => {
      const entries = await zipEntries(rng() < 0.5 ? b.xlsx : b.twoSheets);
      const i = entries.findIndex(([n]) => n === 'xl/workbook.xml');
      const xml = entries[i]![1].toString('utf8');
      const variants: Array<[string, (x: string) => string]> = [
        ['no sheets', (x) => x.replace(/<sheets>.*<\/sheets>/s, '<sheets/>')],
        ['no <sheets>', (x) => x.replace(/<sheets>.*<\/sheets>/s, '')],
        ['a sheet pointing nowhere', (x) => x.replace(/r:id="rId\d+"/, 'r:id="rId999"')],
        [
          '2,000 sheets listed',
          (x) =>
            x.replace(
              '</sheets>',
              `${Array.from({ length: 2000 }, (_, k) => `<sheet name="S${k}" sheetId="${k + 10}" r:id="rId1"/>`).join('')}</sheets>`,
            ),
        ],
        ['duplicate sheet names', (x) => x.replace(/name="[^"]*"/g, 'name="Users"')],
        ['odd sheet names', (x) => x.replace(/name="[^"]*"/, 'name="&lt;&amp;\u202E\u0000"')],
        ['every sheet hidden', (x) => x.replace(/<sheet /g, '<sheet state="veryHidden" ')],
      ];
      const [label, edit] = pick(rng, variants);
      entries[i] = [entries[i]![0], Buffer.from(edit(xml))];
      return { bytes: await deflate(entries), ext: 'xlsx', what: `workbook.xml with ${label}` };
    },
  ],
];

// ── CSV mutators ──────────────────────────────────────────────────────────────────────────────

const withLines = (csv: string, edit: (lines: string[]) => void): string => {
  const lines = csv.split('\r\n');
  edit(lines);
  return lines.join('\r\n');
};

const CSV_MUTATORS: ReadonlyArray<readonly [string, Mutator]> = [
  [
    'utf16le-bom',
    (_rng, b) => ({
      bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(b.csv, 'utf16le')]),
      ext: 'csv',
      what: 'UTF-16 LE with BOM',
    }),
  ],
  [
    'utf16be-bom',
    (_rng, b) => {
      const le = Buffer.from(b.csv, 'utf16le');
      return {
        bytes: Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le).swap16()]),
        ext: 'csv',
        what: 'UTF-16 BE with BOM',
      };
    },
  ],
  [
    'utf16le-no-bom',
    (_rng, b) => ({ bytes: Buffer.from(b.csv, 'utf16le'), ext: 'csv', what: 'UTF-16 LE without BOM' }),
  ],
  [
    'stray-nul',
    (rng, b) => {
      const bytes = Buffer.from(b.csv, 'utf8');
      const n = between(rng, 1, 4);
      const parts: Buffer[] = [];
      let last = 0;
      for (const at of Array.from({ length: n }, () => int(rng, bytes.length)).sort((x, y) => x - y)) {
        parts.push(bytes.subarray(last, at), Buffer.from([0]));
        last = at;
      }
      parts.push(bytes.subarray(last));
      return { bytes: Buffer.concat(parts), ext: 'csv', what: `${n} stray NUL bytes` };
    },
  ],
  [
    'invalid-utf8',
    (rng, b) => {
      const bytes = Buffer.from((rng() < 0.5 ? '\uFEFF' : '') + b.csv, 'utf8');
      const at = int(rng, bytes.length);
      const junk = pick(rng, [
        [0xff],
        [0xc3],
        [0xe9],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0x80, 0x80],
      ]);
      return {
        bytes: Buffer.concat([bytes.subarray(0, at), Buffer.from(junk), bytes.subarray(at)]),
        ext: 'csv',
        what: `invalid UTF-8 ${junk.map((x) => x.toString(16)).join(' ')} at ${at}`,
      };
    },
  ],
  [
    'windows-1252',
    (_rng, b) => ({ bytes: Buffer.from(b.csv.replace(/[’]/g, "'"), 'latin1'), ext: 'csv', what: 'Windows-1252' }),
  ],
  [
    'mixed-eol',
    (rng, b) => ({
      bytes: Buffer.from(b.csv.replace(/\r\n/g, () => pick(rng, ['\r\n', '\n', '\r', '\n\r', '\r\r\n']))),
      ext: 'csv',
      what: 'mixed line endings',
    }),
  ],
  [
    'unbalanced-quote',
    (rng, b) => {
      const at = int(rng, b.csv.length);
      const quote = pick(rng, ['"', '"', '""', '"""', "'"]);
      return {
        bytes: Buffer.from(b.csv.slice(0, at) + quote + b.csv.slice(at)),
        ext: 'csv',
        what: `${quote} inserted at ${at}`,
      };
    },
  ],
  [
    'long-line',
    (rng, b) => {
      const size = pick(rng, [1_048_576, 1_100_000, 3_000_000]);
      const how = pick(rng, ['cell', 'quoted cell', 'delimiters', 'header', 'open quote']);
      const csv = withLines(b.csv, (lines) => {
        const at = how === 'header' ? 0 : between(rng, 1, lines.length - 2);
        const long =
          how === 'cell'
            ? `Long,long${'x'.repeat(size)}`
            : how === 'quoted cell'
              ? `Long,"${'y'.repeat(size)}"`
              : how === 'delimiters'
                ? ','.repeat(size)
                : how === 'header'
                  ? `${lines[0]},${'h'.repeat(size)}`
                  : `Open,"${'z\r\n'.repeat(size / 3)}`;
        if (how === 'header') lines[0] = long;
        else lines.splice(at, 0, long);
      });
      return { bytes: Buffer.from(csv), ext: 'csv', what: `a ${size}-byte line (${how})` };
    },
  ],
  ['bit-flips', (rng, b) => ({ ...bitFlips(rng, Buffer.from(b.csv)), ext: 'csv' })],
  ['truncate', (rng, b) => ({ ...truncate(rng, Buffer.from(b.csv)), ext: 'csv' })],
  ['random-run', (rng, b) => ({ ...overwriteRun(rng, Buffer.from(b.csv)), ext: 'csv' })],
  [
    'delimiters',
    (rng, b) => {
      const to = pick(rng, [';', '\t', '|', ', ']);
      const all = rng() < 0.5;
      return {
        bytes: Buffer.from(b.csv.replace(/,/g, () => (all || rng() < 0.3 ? to : ','))),
        ext: 'csv',
        what: `${all ? 'every' : 'some'} comma → ${JSON.stringify(to)}`,
      };
    },
  ],
  [
    'boms-and-controls',
    (rng, b) => {
      const junk = pick(rng, [
        '\uFEFF',
        '\uFEFF\uFEFF',
        '\u0001',
        '\u001B[31m',
        '\u202E',
        '\u0085',
        '\u2028',
        '\f',
        '\v',
        '\u007F',
      ]);
      const at = int(rng, b.csv.length);
      return {
        bytes: Buffer.from(b.csv.slice(0, at) + junk + b.csv.slice(at)),
        ext: 'csv',
        what: `${JSON.stringify(junk)} at ${at}`,
      };
    },
  ],
  [
    'blank-lines',
    (rng, b) => {
      const n = pick(rng, [9_999, 10_000, 10_001, 60_000]);
      const eol = pick(rng, ['\r\n', '\n', ',,,,,,,,,\r\n', '" "\n']);
      return {
        bytes: Buffer.from(withLines(b.csv, (lines) => lines.splice(2, 0, eol.repeat(n)))),
        ext: 'csv',
        what: `${n} blank lines (${JSON.stringify(eol)})`,
      };
    },
  ],
  [
    'many-rows',
    (rng) => {
      const n = pick(rng, [5_000, 40_000]);
      const rows = Array.from({ length: n }, (_, i) => `User ${i},u${i},,Dept ${i % 7},u${i}@example.com,,Yes,No,,`);
      return {
        bytes: Buffer.from(`${TEMPLATE.join(',')}\r\n${rows.join('\r\n')}\r\n`),
        ext: 'csv',
        what: `${n} valid rows`,
      };
    },
  ],
  [
    'header-only-variants',
    (rng, b) => {
      const header = b.csv.split('\r\n')[0]!;
      const text = pick(rng, [
        header,
        `${header}\r\n`,
        `\r\n\r\n${header}`,
        `${header},Username`,
        header.replace('Username', ''),
        header.replace('Name', 'Nome').replace('Username', 'Usuário'),
      ]);
      return { bytes: Buffer.from(text), ext: 'csv', what: `header only: ${JSON.stringify(text.slice(0, 60))}` };
    },
  ],
];

// ── Cases ───────────────────────────────────────────────────────────────────────────────────

interface FuzzCase {
  seed: number;
  mutator: string;
  file: string;
  what: string;
}

function caseSeeds(): number[] {
  if (REPLAY.length > 0) return REPLAY;
  const rng = mulberry32(BASE_SEED);
  return Array.from({ length: CASES }, () => Math.floor(rng() * 4294967296) >>> 0);
}

async function makeCase(seed: number, index: number, bases: Bases, dir: string): Promise<FuzzCase> {
  const rng = mulberry32(seed);
  // About 60% workbooks, 40% CSV.
  const [mutator, mutate] = rng() < 0.6 ? pick(rng, XLSX_MUTATORS) : pick(rng, CSV_MUTATORS);
  const made = await mutate(rng, bases);
  const file = path.join(dir, `f${String(index).padStart(3, '0')}-${seed}-${mutator}.${made.ext}`);
  writeFileSync(file, made.bytes);
  return { seed, mutator: `${made.ext}:${mutator}`, file, what: made.what };
}

describe('fuzzing the read stage through `usersync import`', () => {
  let cwd: string;
  let cases: FuzzCase[] = [];

  beforeAll(async () => {
    process.stderr.write(
      `\nfuzz: base seed ${BASE_SEED} (USERSYNC_FUZZ_SEED), ${REPLAY.length > 0 ? `replaying ${REPLAY.join(',')}` : `${CASES} cases`}\n`,
    );
    cwd = makeWorkdir('usersync-fuzz-');
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(
      path.join(cwd, 'config', 'local.json'),
      JSON.stringify({
        logs: { console: 'json' },
        import: { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      }),
    );
    const dir = path.join(cwd, 'cases');
    mkdirSync(dir);
    const bases = await buildBases(cwd);
    const seeds = caseSeeds();
    for (const [i, seed] of seeds.entries()) cases.push(await makeCase(seed, i, bases, dir));
  }, 120_000);

  it('the unmutated bases import cleanly (so mutations start from valid files)', async () => {
    const names = ['base.xlsx', 'crafted.xlsx', 'two.xlsx', 'base.csv'];
    const results = await runImportBatches(
      names.map((n) => path.join(cwd, n)),
      {
        cwd,
        workDir: path.join(cwd, 'base-runs'),
        databaseUrl: () => `sqlite:${path.join(cwd, 'base.sqlite')}`,
        chunkSize: 10,
        parallel: 1,
        perFileTimeoutMs: 60_000,
        args: ['--dry-run'],
      },
    );
    expect(
      results.map(
        (r) =>
          `${path.basename(r.file)}: ${r.report?.outcome} ${r.report?.error?.message ?? ''} ${r.report?.counts.rows}`,
      ),
    ).toEqual(names.map((n) => `${n}: imported  12`));
  });

  it('ends every mutated file imported or rejected with a clear FILE_ message: never exit 3, a crash, a hang, 1 GB or a temp file', async () => {
    const started = Date.now();
    const results = await runImportBatches(
      cases.map((c) => c.file),
      {
        cwd,
        workDir: path.join(cwd, 'runs'),
        databaseUrl: (lane) => `sqlite:${path.join(cwd, `lane-${lane}.sqlite`)}`,
        chunkSize: 30,
        parallel: 2,
        perFileTimeoutMs: 60_000,
      },
    );
    const elapsed = Date.now() - started;
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    for (const [i, result] of results.entries()) {
      const c = cases[i]!;
      const key =
        result.report === undefined
          ? 'NO REPORT'
          : result.report.outcome === 'rejected'
            ? (result.report.error?.code ?? '?')
            : result.report.outcome;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      const problems = problemsOf(result);
      if (problems.length > 0)
        failures.push(
          `seed ${c.seed} (${c.mutator}: ${c.what}) → ${problems.join('; ')}\n    file: ${c.file}\n    replay: USERSYNC_FUZZ_REPLAY=${c.seed}`,
        );
    }
    failures.push(...runProblems(results, { maxRssMb: MAX_RSS_MB }));
    const peak = Math.max(...results.map((r) => r.run.peakRssMb ?? 0));
    process.stderr.write(
      [
        `fuzz: ${results.length} cases in ${(elapsed / 1000).toFixed(1)} s over ${new Set(results.map((r) => r.run)).size} processes; peak RSS ${Math.round(peak)} MiB; base seed ${BASE_SEED}`,
        ...[...outcomes.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(4)}  ${k}`),
        '',
      ].join('\n'),
    );
    expect(failures).toEqual([]);
    rmSync(cwd, { recursive: true, force: true }); // the cases are kept for replay when the test fails
  }, 240_000);
});
