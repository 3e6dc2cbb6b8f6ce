/**
 * `xl/sharedStrings.xml` read by scanning for its few elements instead of through saxes' events.
 *
 * The shared strings come before the first row, so their parse is start-up latency: the import's
 * main thread waits for it. exceljs' way (saxes, an event object per tag and text) took ~0.37 s
 * of a 100k-row list's ~300,000 strings, most of the ~0.4 s the main thread sat idle before its
 * first batch; scanning takes a fraction of that. A string item (`<si>`) in the usual form —
 * `<t>` text, or runs of `<r><rPr>…</rPr><t>…</t></r>`, perhaps with phonetic guides — is cut
 * out with indexOf; any other (a comment, CDATA, an entity XML does not predefine) goes through
 * saxes alone, so nothing unusual is read differently and malformed XML still fails the file.
 *
 * A string is the text of all its `<t>`s, phonetic guides (`<rPh>`) left out — as an inline
 * string is read (sheet-rows.ts). exceljs kept the last `<t>`'s text when a guide followed it
 * (`<si><t>漢字</t><rPh><t>かんじ</t></rPh></si>` read "かんじ"), and added the whitespace
 * between the tags of an indented part to the text.
 */
import { requireFromExceljs } from '../exceljs-require.js';
import { SaxesParser } from './saxes.js';

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const ENTITY = /^(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));/;

/** Feeds a shared-strings part through in chunks; calls `push` with each string in order. */
export class SharedStringsScanner {
  private carry = '';
  private rootClosed = false;
  private rootOpen = false;

  constructor(private readonly push: (text: string) => void) {}

  write(chunk: string): void {
    const xml = this.carry + chunk;
    let at = 0;
    // The item begun but not finished in this text (-1: none).
    let pending = -1;
    for (;;) {
      const open = findTag(xml, 'si', at);
      if (open < 0) break;
      const startEnd = xml.indexOf('>', open);
      if (startEnd < 0) {
        pending = open;
        break;
      }
      if (xml.charCodeAt(startEnd - 1) === 47 /* / */) {
        this.push('');
        at = startEnd + 1;
        continue;
      }
      const close = xml.indexOf('</si>', startEnd);
      if (close < 0) {
        pending = open;
        break;
      }
      this.push(itemText(xml, startEnd + 1, close) ?? itemTextBySaxes(xml.slice(open, close + 5)));
      at = close + 5;
    }
    if (!this.rootOpen) {
      const root = findTag(xml, 'sst', 0);
      const rootEnd = root < 0 ? -1 : xml.indexOf('>', root);
      this.rootOpen = rootEnd >= 0;
      if (this.rootOpen && xml.charCodeAt(rootEnd - 1) === 47) this.rootClosed = true; // <sst …/>: no strings
    }
    this.rootClosed ||= xml.includes('</sst>', at);
    // Keep an item begun but not finished, else only what could be the start of a tag.
    const lastTag = xml.lastIndexOf('<');
    this.carry = pending >= 0 ? xml.slice(pending) : lastTag >= at ? xml.slice(lastTag) : '';
  }

  /** After the last chunk: a part cut short inside its root fails as saxes would fail it. */
  end(): void {
    if (findTag(this.carry, 'si', 0) >= 0)
      throw new Error('unclosed tag: si (the shared strings part ends inside a string)');
    if (this.rootOpen && !this.rootClosed) throw new Error('unclosed tag: sst (the shared strings part ends early)');
  }
}

/** Index of `<name` followed by whitespace, `>` or `/`, from `from`; -1 if none. */
function findTag(xml: string, name: string, from: number): number {
  for (let at = xml.indexOf(`<${name}`, from); at >= 0; at = xml.indexOf(`<${name}`, at + 1)) {
    const next = xml.charCodeAt(at + name.length + 1);
    if (next === 62 || next === 47 || next === 32 || next === 9 || next === 10 || next === 13) return at;
    if (Number.isNaN(next)) return at; // the chunk ends right after the name: treat as begun
  }
  return -1;
}

/** The name of the tag whose `<` is at `lt`: up to whitespace, `/` or `>` (a closing tag keeps its `/`). */
function tagName(xml: string, lt: number, gt: number): string {
  let end = lt + 2;
  while (end < gt) {
    const c = xml.charCodeAt(end);
    if (c === 62 || c === 47 || c === 32 || c === 9 || c === 10 || c === 13) break;
    end++;
  }
  return xml.slice(lt + 1, end);
}

/** The text of an item's body (`from`…`to`), or undefined when it needs a real XML parser. */
function itemText(xml: string, from: number, to: number): string | undefined {
  let text = '';
  let at = from;
  while (at < to) {
    const lt = xml.indexOf('<', at);
    if (lt < 0 || lt >= to) break; // what follows the last tag is whitespace between tags
    const next = xml.charCodeAt(lt + 1);
    if (next === 33 /* ! */ || next === 63 /* ? */) return undefined; // comment, CDATA, instruction
    const gt = xml.indexOf('>', lt);
    if (gt < 0 || gt >= to) return undefined;
    const name = tagName(xml, lt, gt);
    const selfClosing = xml.charCodeAt(gt - 1) === 47;
    if (name === 't' && !selfClosing) {
      const end = xml.indexOf('<', gt + 1);
      if (end < 0 || end >= to || !xml.startsWith('</t>', end)) return undefined;
      const part = decodeText(xml.slice(gt + 1, end));
      if (part === undefined) return undefined;
      text += part;
      at = end + 4;
    } else if (name === 'rPh' && !selfClosing) {
      const end = xml.indexOf('</rPh>', gt);
      if (end < 0 || end >= to) return undefined;
      at = end + 6;
    } else {
      at = gt + 1;
    }
  }
  return text;
}

/**
 * XML text as saxes gives it: line ends normalised to \n, the predefined and numeric entities
 * decoded; undefined for anything else after an `&` (saxes then names the problem).
 */
function decodeText(raw: string): string | undefined {
  const text = raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
  if (!text.includes('&')) return text;
  const parts = text.split('&');
  let out = parts[0] as string;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    const match = ENTITY.exec(part);
    if (match === null) return undefined;
    let decoded: string;
    if (match[3] !== undefined) decoded = PREDEFINED[match[3]] as string;
    else {
      const code = match[1] !== undefined ? Number(match[1]) : parseInt(match[2] as string, 16);
      if (!isXmlChar(code)) return undefined;
      decoded = String.fromCodePoint(code);
    }
    out += decoded + part.slice(match[0].length);
  }
  return out;
}

/** XML 1.0's Char production: what a character reference may name. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

/** One item through saxes: the same text rule, and saxes' own error for malformed XML. */
function itemTextBySaxes(item: string): string {
  const parser = new SaxesParser();
  let error: Error | undefined;
  let text = '';
  let inText = 0;
  let inGuide = 0;
  const local = (name: string) => name.slice(name.indexOf(':') + 1);
  parser.on('error', (e) => (error ??= e));
  parser.on('opentag', (tag) => {
    if (local(tag.name) === 't') inText++;
    else if (local(tag.name) === 'rPh') inGuide++;
  });
  parser.on('closetag', (tag) => {
    if (local(tag.name) === 't') inText--;
    else if (local(tag.name) === 'rPh') inGuide--;
  });
  const onText = (value: string) => {
    if (inText > 0 && inGuide === 0) text += value;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.write(item);
  parser.close();
  if (error !== undefined) throw error;
  return text;
}

/** Inflated bytes decoded and scanned at a time: above V8's largest young object (128 KB). */
const SCAN_BYTES = 512 * 1024;

interface SharedStringsReader {
  sharedStrings: { push(text: string): unknown } | undefined;
  _emitEntry(payload: { type: string }): void;
}

/**
 * Makes an exceljs WorkbookReader (sharedStrings: 'cache') read its shared strings with the
 * scanner: replaces its `_parseSharedStrings` (lib/stream/xlsx/workbook-reader.js, 4.4.0) on this
 * instance. The table still starts as `[]` assigned to `sharedStrings`, which compact-strings.ts
 * may have made compact.
 */
export function scanSharedStringsOf(reader: object): void {
  const iterateStream = requireFromExceljs('exceljs/lib/utils/iterate-stream.js') as (
    stream: unknown,
  ) => AsyncIterable<Buffer | string>;
  Object.assign(reader, {
    async *_parseSharedStrings(this: SharedStringsReader, entry: unknown): AsyncGenerator<never> {
      this._emitEntry({ type: 'shared-strings' });
      this.sharedStrings = [];
      const table = this.sharedStrings;
      const scanner = new SharedStringsScanner((text) => table.push(text));
      // One streaming decoder for the part: a character split across chunks stays whole.
      const decoder = new TextDecoder('utf-8');
      // The inflated part comes in 16 KB chunks; they are decoded SCAN_BYTES at a time. The strings
      // cut out of a decoded text keep it alive, and a 16 KB text is a young object that each
      // scavenge copies until it is promoted; a text this long is allocated outside the young
      // generation and never copied. The worker's scavenges before its first batch (100k rows):
      // 255–277 → 111–130 ms, 33 → 17 MB promoted.
      const held: Buffer[] = [];
      let heldBytes = 0;
      const scanHeld = (): void => {
        if (heldBytes === 0) return;
        scanner.write(decoder.decode(held.length === 1 ? held[0] : Buffer.concat(held, heldBytes), { stream: true }));
        held.length = 0;
        heldBytes = 0;
      };
      for await (const chunk of iterateStream(entry)) {
        if (typeof chunk === 'string') {
          scanHeld();
          scanner.write(chunk);
          continue;
        }
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes >= SCAN_BYTES) scanHeld();
      }
      scanHeld();
      scanner.write(decoder.decode());
      scanner.end();
    },
  });
}
