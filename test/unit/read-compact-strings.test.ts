import { describe, expect, it } from 'vitest';
import { CompactStrings, installCompactSharedStrings } from '../../src/pipeline/read/compact-strings.js';

describe('compact shared strings', () => {
  it('gives back every string exactly, across slab boundaries, with any characters', () => {
    const store = new CompactStrings();
    const samples = ['', 'José Ñúñez', '東京', '😀 emoji', 'x'.repeat(40_000), ' spaces kept ', 'a\nb'];
    const texts = Array.from({ length: 120_000 }, (_, i) => `${samples[i % samples.length]}-${i}`);
    for (const text of texts) store.push(text);
    expect(store.size).toBe(texts.length);
    for (const i of [0, 1, 2, 3, 4, 5, 6, 65_537, 119_999]) expect(store.get(i)).toBe(texts[i]);
    expect(store.get(-1)).toBeUndefined();
    expect(store.get(texts.length)).toBeUndefined();
  });

  it('joins the runs of a rich-text shared string', () => {
    const store = new CompactStrings();
    store.push({ richText: [{ text: 'Hello ' }, { font: { bold: true }, text: 'World' }] });
    expect(store.get(0)).toBe('Hello World');
  });

  it('stands in for the array exceljs assigns and indexes', () => {
    const reader: { sharedStrings?: unknown[] } = {};
    installCompactSharedStrings(reader);
    expect(reader.sharedStrings).toBeUndefined(); // no shared strings part yet
    reader.sharedStrings = [];
    reader.sharedStrings.push('first');
    reader.sharedStrings.push('second');
    expect(reader.sharedStrings[1]).toBe('second');
    expect(reader.sharedStrings.length).toBe(2);
    expect(Boolean(reader.sharedStrings)).toBe(true); // exceljs tests it for truthiness
  });
});
