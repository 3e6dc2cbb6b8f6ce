/**
 * A worksheet's XML as parseSax (exceljs-sax-fix.ts) reads it, but with its plain rows read here
 * instead of by saxes. saxes checks every character of every name and builds an event object for
 * every tag and text: with sheet-rows.ts' handling of those events, ~0.55 s of the reader's ~1.7 s
 * of CPU for 100k template rows. A template row has one shape —
 * `<row r="2" …><c r="A2" s="1" t="s"><v>12</v></c>…</row>` — which this scanner reads straight
 * into its cells: `rows.row(r, s)`, `rows.cell(r, s, t, text of <v>)` for each cell, `rows.end()`,
 * the very values sheet-rows.ts' event handlers would have taken from saxes' events.
 *
 * What the scanner does not know, it leaves to saxes, whose events are yielded as parseSax's are,
 * so the result never differs: saxes reads the part up to `<sheetData>` and from `</sheetData>` on
 * (and so checks the whole document is well-formed: a part cut short still fails with "unclosed
 * tag"); and from the first row holding anything but plain `row`/`c`/`v` elements — an entity, a
 * formula, an inline string, a comment, a CR, a character XML forbids, text beside the elements,
 * a mismatched or unknown tag — saxes reads the rest of the part, starting at that row (its parser
 * has then seen exactly the tags still open there: the root and sheetData). A part whose
 * sheetData cannot be found plainly (a comment before it, a prefixed name, no sheetData) is all
 * saxes'. saxes' errors keep their line and column in the part. One thing differs, as it already
 * did with where the zip's chunks end: a damaged row is handed to saxes once the scanner has all
 * of it, so a row or two before it may have been passed on first. A test reads sheets both ways,
 * whole and in chunks of many sizes, and compares; the corpus test reads every real workbook.
 */
import { SaxEventCollector, type SaxEvent } from '../patches/exceljs-sax-fix.js';

/** A start tag as readStartTag reads it: of its attributes, the three that rows and cells use. */
interface Tag {
  name: 'row' | 'c' | 'v' | '';
  r: string | undefined;
  s: string | undefined;
  t: string | undefined;
  isSelfClosing: boolean;
}

/** Where the scanner's plain rows go, in file order with saxes' events. */
export interface PlainRows {
  /** A `<row>` opens, with its `r` and `s` attributes. */
  row(r: string | undefined, s: string | undefined): void;
  /** A `<c>` of the row with its `r`, `s` and `t` attributes and its `<v>`'s text (undefined: no `<v>`). */
  cell(r: string | undefined, s: string | undefined, t: string | undefined, value: string | undefined): void;
  /** The row closes. */
  end(): void;
}

/** A part's text before its sheetData, or one row, longer than this goes to saxes as it is. */
const PREFIX_LIMIT = 1 << 20;

/**
 * Yields saxes' events of the part, one array per chunk as parseSax does; the plain rows go to
 * `rows` as they are read, before the events of the same chunk.
 */
export async function* sheetEvents(
  iterable: AsyncIterable<Buffer | string>,
  rows: PlainRows,
  options: { scan?: boolean } = {},
): AsyncGenerator<SaxEvent[]> {
  const sax = new SaxEventCollector();
  const decoder = new TextDecoder('utf-8');
  // `scan: false` leaves the whole part to saxes (the tests' reference).
  let mode = options.scan === false ? 'saxes' : ('prefix' as 'prefix' | 'rows' | 'saxes');
  /** Text not handed on yet: the part so far (prefix), or from the first row not yet complete (rows). */
  let pending = '';
  /** The text the scanner read, which saxes never saw: its line breaks, and the length of its last line. */
  const skipped = { lines: 0, column: 0 };
  /** saxes' position when it was handed the rest (its error positions are then off by the skipped text). */
  let handedAt: { line: number; column: number } | undefined;

  const take = (text: string): void => {
    if (mode === 'saxes') return sax.write(text);
    pending += text;
    if (mode === 'prefix') {
      const open = sheetDataOpenEnd(pending);
      if (open === undefined) {
        if (pending.length > PREFIX_LIMIT) handOver(0);
        return;
      }
      if (open < 0) return handOver(0);
      sax.write(pending.slice(0, open));
      pending = pending.slice(open);
      mode = 'rows';
    }
    const stop = scanRows(pending, rows);
    skip(pending, stop.at);
    if (!stop.more) handOver(stop.at);
    else {
      pending = pending.slice(stop.at);
      // One row this long is not a template row: saxes reads it (and the rest) without rescanning it per chunk.
      if (pending.length > PREFIX_LIMIT) handOver(0);
    }
  };
  const skip = (text: string, end: number): void => {
    const last = text.lastIndexOf('\n', end - 1);
    if (last < 0) skipped.column += end;
    else {
      for (let at = text.indexOf('\n'); at >= 0 && at < end; at = text.indexOf('\n', at + 1)) skipped.lines++;
      skipped.column = end - last - 1;
    }
  };
  /** From `at` in pending on, saxes reads the rest of the part. */
  const handOver = (at: number): void => {
    if (mode === 'rows') handedAt = { line: sax.parser.line, column: sax.parser.column };
    mode = 'saxes';
    const rest = pending.slice(at);
    pending = '';
    sax.write(rest);
  };

  /** saxes' error, its "line:column:" moved to where it is in the part (the scanner's rows are not in saxes' count). */
  const failure = (e: Error): Error => {
    const at = /^(\d+):(\d+): /.exec(e.message);
    if (handedAt === undefined || at === null || (skipped.lines === 0 && skipped.column === 0)) return e;
    const [line, column] = [Number(at[1]), Number(at[2])];
    const onThatLine = line === handedAt.line;
    const trueLine = line + skipped.lines;
    const trueColumn = !onThatLine
      ? column
      : skipped.lines > 0
        ? skipped.column + column - handedAt.column
        : column + skipped.column;
    return new Error(`${trueLine}:${trueColumn}: ${e.message.slice(at[0].length)}`);
  };

  for await (const chunk of iterable) {
    take(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (sax.error !== undefined) throw failure(sax.error);
    yield sax.take();
  }
  take(decoder.decode());
  if ((mode as string) !== 'saxes') handOver(0); // what is left is unfinished: saxes says what is wrong with it
  sax.close();
  if (sax.error !== undefined) throw failure(sax.error);
  const rest = sax.take();
  if (rest.length > 0) yield rest;
}

/**
 * Where the sheetData start tag ends (just past its `>`), undefined when the text so far does not
 * reach it, or -1 when the part is not one the scanner reads (a comment, CDATA, DOCTYPE or
 * processing instruction before it other than the XML declaration, an empty `<sheetData/>`).
 */
function sheetDataOpenEnd(text: string): number | undefined {
  const at = text.indexOf('<sheetData');
  const before = at < 0 ? text : text.slice(0, at);
  if (before.includes('<!') || before.lastIndexOf('<?') > 0) return -1;
  if (at < 0) return undefined;
  const end = text.indexOf('>', at);
  if (end < 0) return undefined;
  const next = text.charCodeAt(at + '<sheetData'.length);
  if (next !== 62 /* > */ && !isSpace(next)) return -1; // <sheetDataX…: not ours
  if (text.charCodeAt(end - 1) === 47 /* / */) return -1;
  // saxes reads this tag itself. (Were its `>` inside an attribute value, the rows scan would meet
  // the tag's remainder as text beside the rows, and hand it to saxes from there.)
  return end + 1;
}

/**
 * XML whitespace but CR: saxes turns CR and CRLF into LF (in a cell's text too) and counts them as
 * one line; a part that has them is left to saxes from the row that does.
 */
const isSpace = (code: number): boolean => code === 32 || code === 9 || code === 10;

/** The cells of the row being read (reused: nothing is allocated per cell until the row is known plain). */
const cellR: Array<string | undefined> = [];
const cellS: Array<string | undefined> = [];
const cellT: Array<string | undefined> = [];
const cellV: Array<string | undefined> = [];

/**
 * Reads the complete plain rows of `text` into `rows`. `more`: stopped at `at`, the start of a row
 * not complete yet; otherwise `at` is where saxes must take over (`</sheetData>`, or the start of
 * something the scanner does not read).
 */
function scanRows(text: string, rows: PlainRows): { at: number; more: boolean } {
  const length = text.length;
  let i = 0;
  for (;;) {
    let at = i;
    while (at < length && isSpace(text.charCodeAt(at))) at++;
    if (at >= length) return { at: i, more: true };
    if (!text.startsWith('<row', at)) return { at: i, more: at + 4 > length && '<row'.startsWith(text.slice(at)) };
    const open = readStartTag(text, at);
    const { name, r, s, isSelfClosing } = tagRead();
    if (open === MORE) return { at: i, more: true };
    if (open === NOT_OURS || name !== 'row') return { at: i, more: false };
    let count = 0;
    let next = open;
    if (!isSelfClosing) {
      const close = text.indexOf('</row', open);
      if (close < 0) return { at: i, more: true };
      count = readCells(text, open, close);
      if (count < 0) return { at: i, more: false };
      next = closeTagEnd(text, close, 'row');
      if (next === MORE) return { at: i, more: true };
      if (next === NOT_OURS) return { at: i, more: false };
    }
    rows.row(r, s);
    for (let k = 0; k < count; k++) rows.cell(cellR[k], cellS[k], cellT[k], cellV[k]);
    rows.end();
    i = next;
  }
}

/**
 * Reads text[from, to) — a row's content, to its `</row` — into the cell arrays; returns the
 * number of cells, or NOT_OURS. What saxes' events would have meant is kept exactly: text before
 * a cell's `<v>` (and between cells) went to a cell already set, so only whitespace may be there
 * and it is dropped; whitespace after `</v>` is part of the cell's text, as it was.
 */
function readCells(text: string, from: number, to: number): number {
  let count = 0;
  let i = from;
  for (;;) {
    while (i < to && isSpace(text.charCodeAt(i))) i++;
    if (i >= to) return count;
    const cellEnd = readStartTag(text, i);
    const cell = tagRead();
    if (cellEnd < 0 || cellEnd > to || cell.name !== 'c') return NOT_OURS;
    let value: string | undefined;
    i = cellEnd;
    if (!cell.isSelfClosing) {
      while (i < to && isSpace(text.charCodeAt(i))) i++;
      if (text.startsWith('<v', i)) {
        const valueStart = readStartTag(text, i);
        const valueTag = tagRead();
        if (valueStart < 0 || valueStart > to || valueTag.name !== 'v') return NOT_OURS;
        if (valueTag.isSelfClosing) {
          value = '';
          i = valueStart;
        } else {
          const lt = text.indexOf('<', valueStart);
          if (lt < 0 || lt > to || !plainText(text, valueStart, lt)) return NOT_OURS;
          value = text.slice(valueStart, lt);
          i = closeTagEnd(text, lt, 'v');
          if (i < 0 || i > to) return NOT_OURS;
        }
        const after = i;
        while (i < to && isSpace(text.charCodeAt(i))) i++;
        if (i > after) value += text.slice(after, i);
      }
      i = closeTagEnd(text, i, 'c');
      if (i < 0 || i > to) return NOT_OURS;
    }
    cellR[count] = cell.r;
    cellS[count] = cell.s;
    cellT[count] = cell.t;
    cellV[count] = value;
    count++;
  }
}

/** Just past `</name>` (spaces allowed before `>`) at `at`; MORE when the text ends first, NOT_OURS when it is not that tag. */
function closeTagEnd(text: string, at: number, name: string): number {
  const tag = `</${name}`;
  if (!text.startsWith(tag, at))
    return at + tag.length > text.length && tag.startsWith(text.slice(at)) ? MORE : NOT_OURS;
  let i = at + tag.length;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (i >= text.length) return MORE;
  return text.charCodeAt(i) === 62 /* > */ ? i + 1 : NOT_OURS;
}

/** readStartTag's results besides a position: the text ends inside the tag, or the tag is not the scanner's. */
const MORE = -1;
const NOT_OURS = -2;
/** The tag readStartTag read last (one object fewer per tag than returning both). */
let lastTag: Tag = { name: '', r: undefined, s: undefined, t: undefined, isSelfClosing: false };
/** The names of the attributes of the tag being read, to refuse a repeated one (saxes' error). */
const attributeNames: string[] = [];
/** lastTag as readStartTag left it (read through a call, so TypeScript does not narrow it across calls). */
const tagRead = (): Tag => lastTag;

/**
 * Reads the start tag at `lt` into lastTag and returns where it ends; MORE when the text ends
 * inside it, NOT_OURS when it is not one the scanner reads (unknown element, an attribute value
 * needing saxes, a repeated attribute, odd syntax).
 */
function readStartTag(text: string, lt: number): number {
  const length = text.length;
  let i = lt + 1;
  while (i < length && isNameChar(text.charCodeAt(i))) i++;
  if (i >= length) return MORE;
  const name = elementName(text, lt + 1, i);
  if (name === undefined) return NOT_OURS;
  let r: string | undefined;
  let s: string | undefined;
  let t: string | undefined;
  let attributeCount = 0;
  for (;;) {
    const before = i;
    while (i < length && isSpace(text.charCodeAt(i))) i++;
    if (i >= length) return MORE;
    const code = text.charCodeAt(i);
    if (code === 62 /* > */) {
      lastTag = { name, r, s, t, isSelfClosing: false };
      return i + 1;
    }
    if (code === 47 /* / */) {
      if (i + 1 >= length) return MORE;
      if (text.charCodeAt(i + 1) !== 62) return NOT_OURS;
      lastTag = { name, r, s, t, isSelfClosing: true };
      return i + 2;
    }
    if (i === before) return NOT_OURS; // attributes must be separated by whitespace
    const nameStart = i;
    while (i < length && isNameChar(text.charCodeAt(i))) i++;
    if (i >= length) return MORE;
    if (i === nameStart || !isNameStart(text.charCodeAt(nameStart))) return NOT_OURS;
    const attribute = i - nameStart === 1 ? oneLetterName(text.charCodeAt(nameStart)) : text.slice(nameStart, i);
    // A repeated attribute is an error saxes reports.
    for (let k = 0; k < attributeCount; k++) if (attributeNames[k] === attribute) return NOT_OURS;
    attributeNames[attributeCount++] = attribute;
    while (i < length && isSpace(text.charCodeAt(i))) i++;
    if (i >= length) return MORE;
    if (text.charCodeAt(i) !== 61 /* = */) return NOT_OURS;
    i++;
    while (i < length && isSpace(text.charCodeAt(i))) i++;
    if (i >= length) return MORE;
    const quote = text.charCodeAt(i);
    if (quote !== 34 && quote !== 39) return NOT_OURS;
    const from = ++i;
    for (; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c === quote) break;
      // Entities, `<`, tabs and line breaks (saxes normalises them), and what XML forbids: saxes' business.
      if (c < 32 || c === 38 || c === 60 || c >= 0xfffe) return NOT_OURS;
    }
    if (i >= length) return MORE;
    if (attribute === 'r') r = text.slice(from, i);
    else if (attribute === 's') s = text.slice(from, i);
    else if (attribute === 't') t = text.slice(from, i);
    i++;
  }
}

/** text[from, to) when it is `row`, `c` or `v` (the elements the scanner reads), without slicing it. */
function elementName(text: string, from: number, to: number): 'row' | 'c' | 'v' | undefined {
  if (to - from === 1) {
    const code = text.charCodeAt(from);
    return code === 99 ? 'c' : code === 118 ? 'v' : undefined;
  }
  return to - from === 3 && text.startsWith('row', from) ? 'row' : undefined;
}

/** A one-letter attribute name without slicing it: r, s and t are on every cell. */
function oneLetterName(code: number): string {
  switch (code) {
    case 114:
      return 'r';
    case 115:
      return 's';
    case 116:
      return 't';
    default:
      return String.fromCharCode(code);
  }
}

/** True when a text run can be handed on as it is: no entity, CR, character XML forbids or `]]>`. */
function plainText(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (
      c < 32
        ? c !== 9 && c !== 10
        : c === 38 ||
          c >= 0xfffe ||
          (c === 62 && i >= from + 2 && text.charCodeAt(i - 1) === 93 && text.charCodeAt(i - 2) === 93)
    )
      return false;
  }
  return true;
}

/** ASCII name characters only: anything else (and saxes' checks of it) is left to saxes. */
function isNameChar(code: number): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 58 ||
    code === 95 ||
    code === 45 ||
    code === 46
  );
}

function isNameStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95;
}
