/**
 * Replaces exceljs 4.4.0's `lib/utils/parse-sax.js` — the XML event source of every part its
 * streaming reader parses (worksheets, shared strings, workbook, styles, relationships) — in this
 * worker thread, fixing two bugs found by fuzzing the read stage:
 *
 * 1. It never calls saxes' `close()`, so an XML part that stops early (a sheet cut short, a
 *    damaged zip entry) ends without an error: the rows after the cut were silently lost and the
 *    file reported "imported". Now the end of the part is checked and an unclosed element fails
 *    the parse (`unclosed tag: sheetData`), which rejects the file as damaged.
 * 2. It decodes each chunk on its own (`TextDecoder.decode(chunk)` without `stream: true`), so a
 *    multi-byte UTF-8 character split across two chunks became two U+FFFD: `José` read as
 *    `Jos��` once the shared strings or a sheet passed 16 KiB of non-ASCII text. Now one streaming
 *    decoder reads the whole part.
 *
 * exceljs' modules take `require('../../utils/parse-sax')` when they load, so this module must be
 * evaluated BEFORE exceljs is first loaded in the thread: xlsx-worker.ts imports it first (ES
 * modules evaluate their imports in order). Only this thread's module cache is changed.
 *
 * Upstream (exceljs 4.4.0, lib/utils/parse-sax.js; versions in pinned.ts): bug 2 is exceljs#2084
 * and #2063 (open; unmerged PRs #1665, #1821, #2894). Bug 1 has no upstream issue that we know of.
 * Remove this patch only once a release fixes both (test/unit/xlsx-sheet-events.test.ts covers them).
 */
import { requireFromExceljs } from '../exceljs-require.js';
import { SaxesParser } from '../sheet/saxes.js';

export type SaxEvent = { eventType: 'opentag' | 'text' | 'closetag'; value: unknown };

/** A saxes parser whose events are collected, for the caller to take one array at a time. */
export class SaxEventCollector {
  readonly parser = new SaxesParser();
  /** The parser's first error (it goes on after one; the caller throws this). */
  error: Error | undefined;
  private events: SaxEvent[] = [];
  // An empty part (some generators write 0-byte parts exceljs ignores) has nothing to close.
  private started = false;

  constructor() {
    this.parser.on('error', (e) => (this.error ??= e));
    this.parser.on('opentag', (value) => this.events.push({ eventType: 'opentag', value }));
    this.parser.on('text', (value) => this.events.push({ eventType: 'text', value }));
    this.parser.on('closetag', (value) => this.events.push({ eventType: 'closetag', value }));
  }

  write(text: string): void {
    if (text === '') return;
    this.started ||= text.trim() !== '';
    this.parser.write(text);
  }

  /** The events since the last take. */
  take(): SaxEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  /** Ends the document: an element still open is an error (fix 1). */
  close(): void {
    if (this.started) this.parser.close();
  }
}

/** The replacement: the same events in the same batches (one array per input chunk). */
export async function* parseSax(iterable: AsyncIterable<Buffer | string>): AsyncGenerator<SaxEvent[]> {
  const sax = new SaxEventCollector();
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of iterable) {
    sax.write(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (sax.error !== undefined) throw sax.error;
    yield sax.take();
  }
  sax.write(decoder.decode());
  sax.close();
  if (sax.error !== undefined) throw sax.error;
  const rest = sax.take();
  if (rest.length > 0) yield rest;
}

const path = requireFromExceljs.resolve('exceljs/lib/utils/parse-sax.js');
if (requireFromExceljs.cache[requireFromExceljs.resolve('exceljs/lib/stream/xlsx/worksheet-reader.js')] !== undefined) {
  throw new Error('exceljs-sax-fix must be imported before exceljs is loaded');
}
requireFromExceljs(path);
const cached = requireFromExceljs.cache[path];
if (cached === undefined) throw new Error(`exceljs-sax-fix: ${path} is not in the module cache`);
cached.exports = parseSax;
