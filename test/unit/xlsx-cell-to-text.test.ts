import { describe, expect, it } from 'vitest';
import { CELL_ERRORS, cellToText, cleanText, dateToText, numberToText } from '../../src/xlsx/sheet/cell-to-text.js';

const text = (value: unknown, result?: unknown) => cellToText(result === undefined ? { value } : { value, result });

describe('cellToText', () => {
  it('keeps strings, trimmed and NFC-normalised', () => {
    expect(text('  José  ')).toBe('José');
    expect(text('Jose\u0301')).toBe('José');
    expect(String(text('Jose\u0301')).length).toBe(4);
  });

  it('removes zero-width characters and turns non-breaking spaces into spaces', () => {
    expect(text('\u200Bjdoe\u200D\uFEFF')).toBe('jdoe');
    expect(text('\u00A0Ann\u00A0Lee\u202F')).toBe('Ann Lee');
    expect(cleanText('a\u2007b\u2060')).toBe('a b');
  });

  it('decodes OOXML _xHHHH_ escapes', () => {
    expect(text('line_x000D_')).toBe('line');
    expect(text('a_x005F_x0041_b')).toBe('a_x0041_b');
  });

  it('writes numbers as typed: a 13-digit phone has no exponent and no .0', () => {
    expect(text(5511987654321)).toBe('5511987654321');
    expect(text(42)).toBe('42');
    expect(text(-0)).toBe('0');
    expect(text(0.1 + 0.2)).toBe('0.3');
    expect(text(1.5)).toBe('1.5');
    expect(numberToText(12345678901234567000)).toBe('12345678901234567000');
    expect(numberToText(1e21)).toBe('1000000000000000000000');
    expect(numberToText(1e-7)).toBe('0.0000001');
    expect(numberToText(Number.NaN)).toEqual({ error: CELL_ERRORS.badNumber });
  });

  it('writes booleans as TRUE / FALSE', () => {
    expect(text(true)).toBe('TRUE');
    expect(text(false)).toBe('FALSE');
  });

  it('writes dates as ISO, date-only at midnight UTC', () => {
    expect(text(new Date(Date.UTC(2024, 0, 15)))).toBe('2024-01-15');
    expect(dateToText(new Date(Date.UTC(2024, 0, 15, 10, 30)))).toBe('2024-01-15T10:30:00Z');
    expect(dateToText(new Date(Number.NaN))).toEqual({ error: CELL_ERRORS.badDate });
  });

  it('concatenates every rich-text run', () => {
    expect(text({ richText: [{ text: 'Jo' }, { font: { bold: true }, text: 'sé ' }, { text: 'Silva' }] })).toBe(
      'José Silva',
    );
  });

  it('uses the text of hyperlinks and strips mailto:', () => {
    expect(text({ text: 'ann@example.com', hyperlink: 'mailto:ann@example.com' })).toBe('ann@example.com');
    expect(text({ text: 'mailto:bob@example.com', hyperlink: 'mailto:bob@example.com' })).toBe('bob@example.com');
    expect(text({ text: { richText: [{ text: 'c@' }, { text: 'x.org' }] }, hyperlink: 'mailto:c@x.org' })).toBe(
      'c@x.org',
    );
  });

  it('uses the cached result of a formula, also when it is falsy', () => {
    // PITFALLS §3.1: cell.value drops a falsy result, cell.result keeps it.
    expect(text({ formula: 'A1' }, 0)).toBe('0');
    expect(text({ formula: 'A1', result: 'x' })).toBe('x');
    expect(text({ formula: 'A1' }, '')).toBe('');
    expect(text({ formula: '', result: 7 })).toBe('7'); // shared-formula child
  });

  it('fails a formula without a cached result, or with an error result', () => {
    expect(text({ formula: 'VLOOKUP(A1,B:C,2,0)' })).toEqual({ error: CELL_ERRORS.noResult });
    expect(text({ formula: 'A1/0' }, Number.NaN)).toEqual({ error: CELL_ERRORS.errorResult });
    expect(text({ formula: 'A1/0' }, { error: '#DIV/0!' })).toEqual({ error: '#DIV/0!' });
  });

  it('reads LibreOffice booleans TRUE() and FALSE()', () => {
    expect(text({ formula: 'TRUE()', result: 1 })).toBe('TRUE');
    expect(text({ formula: 'FALSE()' })).toBe('FALSE');
  });

  it('keeps spreadsheet errors as errors', () => {
    expect(text({ error: '#N/A' })).toEqual({ error: '#N/A' });
    expect(text({ sharedString: 3 })).toEqual({ error: CELL_ERRORS.sharedString });
  });

  it('gives blank text for empty cells', () => {
    expect(text(null)).toBe('');
    expect(text(undefined)).toBe('');
    expect(text('   ')).toBe('');
  });
});
