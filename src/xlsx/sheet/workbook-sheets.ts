/**
 * Reads the sheet list (tab order, names, hidden state, part paths) from `xl/workbook.xml` and its
 * relationships, because exceljs' streaming reader emits sheets in zip order and loses names and
 * hidden state when the relationships use absolute targets (PITFALLS §3.3). Only these two small
 * entries are inflated, each capped at MAX_PART_BYTES.
 */
import type { ZipFile } from 'yauzl';
import { requirePackage } from '../../require-package.js';

const yauzl: typeof import('yauzl') = requirePackage('yauzl');

/** One sheet as the workbook lists it. */
export interface SheetInfo {
  readonly name: string;
  /** `sheetId` and relationship id, as exceljs' own workbook model has them. */
  readonly sheetId: number;
  readonly rId: string;
  readonly hidden: boolean;
  /** Zip path of the part, e.g. `xl/worksheets/sheet1.xml`. */
  readonly path: string;
}

const MAX_PART_BYTES = 4 * 1024 * 1024;
const WORKBOOK = 'xl/workbook.xml';
const RELS = 'xl/_rels/workbook.xml.rels';
/** The document properties, where usersync marks its reports (domain/workbook-layout.ts). */
const CORE = 'docProps/core.xml';

/** What the workbook part says: sheets in tab order, and the 1904 date system flag. */
export interface WorkbookInfo {
  readonly sheets: SheetInfo[];
  readonly date1904: boolean;
  /**
   * The workbook part or its relationships are UTF-16 XML (legal, written by Excel Mobile), which
   * exceljs' parser reads as UTF-8 and fails on with "disallowed character".
   */
  readonly utf16?: boolean;
  /** Uncompressed size of `xl/sharedStrings.xml` as the zip directory states it; 0 when absent. */
  readonly sharedStringsBytes: number;
  /** Whether the zip has an `xl/sharedStrings.xml` entry at all (workbooks of inline strings have none). */
  readonly hasSharedStrings: boolean;
  /** The document's keywords (`cp:keywords` of docProps/core.xml); '' when none. */
  readonly keywords: string;
}

/** Reads the workbook part; no sheets when it cannot be read (the caller falls back on exceljs). */
export async function readWorkbookInfo(filePath: string): Promise<WorkbookInfo> {
  const { parts: raw, sharedStringsBytes, hasSharedStrings } = await readParts(filePath, [WORKBOOK, RELS, CORE]);
  const core = raw.get(CORE);
  raw.delete(CORE);
  const keywords = core === undefined || isUtf16Xml(core) ? '' : elementText(core.toString('utf8'), 'keywords');
  if ([...raw.values()].some(isUtf16Xml))
    return { sheets: [], date1904: false, utf16: true, sharedStringsBytes, hasSharedStrings, keywords };
  const parts = new Map([...raw].map(([name, bytes]) => [name, bytes.toString('utf8')]));
  const workbook = parts.get(WORKBOOK);
  const rels = parts.get(RELS);
  if (workbook === undefined || rels === undefined)
    return { sheets: [], date1904: false, sharedStringsBytes, hasSharedStrings, keywords };
  const targets = new Map<string, string>();
  for (const attrs of elements(rels, 'Relationship')) {
    const id = attrs.get('Id');
    const target = attrs.get('Target');
    if (id !== undefined && target !== undefined) targets.set(id, resolveTarget(target));
  }
  const sheets: SheetInfo[] = [];
  for (const attrs of elements(workbook, 'sheet')) {
    const rid = [...attrs.entries()].find(([key]) => key === 'r:id' || key.endsWith(':id'))?.[1];
    const path = rid === undefined ? undefined : targets.get(rid);
    const state = attrs.get('state');
    if (rid === undefined || path === undefined) continue;
    const sheetId = Number.parseInt(attrs.get('sheetId') ?? '', 10);
    sheets.push({
      name: attrs.get('name') ?? '',
      sheetId,
      rId: rid,
      hidden: state === 'hidden' || state === 'veryHidden',
      path,
    });
  }
  const pr = elements(workbook, 'workbookPr').next().value?.get('date1904');
  return { sheets, date1904: pr === '1' || pr === 'true', sharedStringsBytes, hasSharedStrings, keywords };
}

/** `worksheets/sheet1.xml` and `/xl/worksheets/sheet1.xml` both mean `xl/worksheets/sheet1.xml`. */
function resolveTarget(target: string): string {
  return target.startsWith('/') ? target.slice(1) : `xl/${target.replace(/^\.\//, '')}`;
}

/** Attributes of every `<name …>` / `<prefix:name …>` element (entities decoded). */
function* elements(xml: string, name: string): Generator<Map<string, string>> {
  const tag = new RegExp(`<(?:[\\w.-]+:)?${name}\\b([^>]*)>`, 'g');
  for (const match of xml.matchAll(tag)) {
    const attrs = new Map<string, string>();
    for (const attr of (match[1] ?? '').matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
      attrs.set(attr[1] ?? '', decodeEntities(attr[3] ?? attr[4] ?? ''));
    }
    yield attrs;
  }
}

/** The text of the first `<name>`/`<prefix:name>` element (entities decoded), or ''. */
function elementText(xml: string, name: string): string {
  const match = new RegExp(`<(?:[\\w.-]+:)?${name}\\b[^>]*>([^<]*)<`).exec(xml);
  return decodeEntities(match?.[1] ?? '').trim();
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[lower] ?? '';
  });
}

/** A UTF-16 byte-order mark, or `<` followed or preceded by a NUL. */
function isUtf16Xml(bytes: Buffer): boolean {
  const [a, b] = [bytes[0], bytes[1]];
  return (
    (a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff) || (a === 0x3c && b === 0x00) || (a === 0x00 && b === 0x3c)
  );
}

async function readParts(
  filePath: string,
  names: readonly string[],
): Promise<{ parts: Map<string, Buffer>; sharedStringsBytes: number; hasSharedStrings: boolean }> {
  const found = new Map<string, Buffer>();
  let sharedStringsBytes = 0;
  let hasSharedStrings = false;
  let complete = false;
  let zip: ZipFile | undefined;
  try {
    zip = await yauzl.openPromise(filePath, { lazyEntries: true, autoClose: false, validateEntrySizes: true });
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName === 'xl/sharedStrings.xml') {
        sharedStringsBytes = entry.uncompressedSize;
        hasSharedStrings = true;
      }
      if (!names.includes(entry.fileName) || entry.uncompressedSize > MAX_PART_BYTES) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      found.set(entry.fileName, Buffer.concat(chunks));
    }
    complete = true;
  } catch {
    // A damaged part only costs us the nicer names; exceljs reports the real problem.
  } finally {
    zip?.close();
  }
  // A directory that could not be read to the end counts as having them: exceljs then does what it always did.
  return { parts: found, sharedStringsBytes, hasSharedStrings: hasSharedStrings || !complete };
}
