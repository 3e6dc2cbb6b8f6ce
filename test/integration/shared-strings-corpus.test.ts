/**
 * shared-strings.ts cuts each string out of xl/sharedStrings.xml with indexOf instead of reading
 * saxes' events. Every corpus workbook's shared strings are read three ways and compared: by the
 * scanner (in small chunks, so items straddle chunk ends), by saxes with the same rule (the text
 * of every <t> outside phonetic guides), and by exceljs' own parser, which the scanner matches
 * except where exceljs is wrong (a phonetic guide's text instead of the string, the whitespace
 * between the tags of an indented part).
 */
// First: the sax fix must replace exceljs' XML reader before exceljs loads (exceljs-sax-fix.ts).
import '../../src/xlsx/patches/exceljs-sax-fix.js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import yauzl from 'yauzl';
import { describe, expect, it } from 'vitest';
import { requireFromExceljs } from '../../src/xlsx/exceljs-require.js';
import { SharedStringsScanner } from '../../src/xlsx/sheet/shared-strings.js';
import { REPO_ROOT } from '../helpers/cli.js';

const CORPUS = process.env.USERSYNC_CORPUS ?? path.resolve(REPO_ROOT, '..', 'shared', 'corpus');
const files = existsSync(CORPUS)
  ? readdirSync(CORPUS).filter((name) => /\.xls[xm]$/i.test(name) && statSync(path.join(CORPUS, name)).isFile())
  : [];

/** The bytes of xl/sharedStrings.xml, or undefined (no such part, or not a zip yauzl opens). */
async function sharedStringsPart(file: string): Promise<Buffer | undefined> {
  let zip: yauzl.ZipFile | undefined;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false, strictFileNames: false });
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName !== 'xl/sharedStrings.xml' || entry.uncompressedSize > 64 * 1024 * 1024) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    zip?.close();
  }
}

type Result = { strings: string[] } | { failed: true };

function byScanner(part: Buffer): Result {
  const strings: string[] = [];
  try {
    const scanner = new SharedStringsScanner((text) => strings.push(text));
    const decoder = new TextDecoder('utf-8');
    for (let at = 0; at < part.length; at += 1000)
      scanner.write(decoder.decode(part.subarray(at, at + 1000), { stream: true }));
    scanner.write(decoder.decode());
    scanner.end();
    return { strings };
  } catch {
    return { failed: true };
  }
}

interface Saxes {
  on(event: string, listener: (value: never) => void): void;
  write(text: string): void;
  close(): void;
}

function bySaxes(part: Buffer): Result {
  const { SaxesParser } = requireFromExceljs('saxes') as { SaxesParser: new () => Saxes };
  const parser = new SaxesParser();
  const strings: string[] = [];
  let failed = false;
  let text: string | undefined;
  let inText = 0;
  let inGuide = 0;
  parser.on('error', () => (failed = true));
  parser.on('opentag', (tag: { name: string }) => {
    if (tag.name === 'si') text = '';
    else if (tag.name === 't') inText++;
    else if (tag.name === 'rPh') inGuide++;
  });
  parser.on('closetag', (tag: { name: string }) => {
    if (tag.name === 'si') strings.push(text ?? '');
    else if (tag.name === 't') inText--;
    else if (tag.name === 'rPh') inGuide--;
  });
  const onText = (value: string) => {
    if (inText > 0 && inGuide === 0 && text !== undefined) text += value;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.write(new TextDecoder('utf-8').decode(part));
  if (!failed) parser.close();
  return failed ? { failed: true } : { strings };
}

async function byExceljs(part: Buffer): Promise<string[] | undefined> {
  const host = { options: { sharedStrings: 'cache' }, sharedStrings: [] as unknown[], _emitEntry() {} };
  const parse = (
    ExcelJS.stream.xlsx.WorkbookReader.prototype as unknown as {
      _parseSharedStrings(entry: Readable): AsyncIterable<unknown>;
    }
  )._parseSharedStrings;
  try {
    for await (const _ of parse.call(host, Readable.from([part])));
  } catch {
    return undefined;
  }
  return host.sharedStrings.map((value) =>
    typeof value === 'string'
      ? value
      : ((value as { richText?: Array<{ text?: string }> } | null)?.richText ?? [])
          .map((run) => run.text ?? '')
          .join(''),
  );
}

describe.skipIf(files.length === 0)('shared strings: the scanner against saxes and exceljs, corpus-wide', () => {
  it("reads every corpus workbook's shared strings as saxes does, and as exceljs does where exceljs is right", async () => {
    let parts = 0;
    let strings = 0;
    let exceljsDiffers = 0;
    for (const name of files) {
      const part = await sharedStringsPart(path.join(CORPUS, name));
      if (part === undefined) continue;
      parts++;
      const scanned = byScanner(part);
      expect({ name, ...scanned }).toEqual({ name, ...bySaxes(part) });
      if (!('strings' in scanned)) continue;
      strings += scanned.strings.length;
      const exceljs = await byExceljs(part);
      expect(exceljs?.length, name).toBe(scanned.strings.length);
      const xml = part.toString('utf8');
      scanned.strings.forEach((text, i) => {
        const theirs = exceljs?.[i] as string;
        if (theirs === text) return;
        exceljsDiffers++;
        // Only where exceljs is wrong: a phonetic guide, or indentation between the tags.
        expect(
          xml.includes('<rPh') || theirs.trim() === text.trim(),
          `${name} string ${i}: ${JSON.stringify(text)} vs exceljs ${JSON.stringify(theirs)}`,
        ).toBe(true);
      });
    }
    expect(parts).toBeGreaterThan(200);
    expect(strings).toBeGreaterThan(50_000);
    expect(exceljsDiffers).toBeLessThan(strings / 100);
  }, 300_000);
});
