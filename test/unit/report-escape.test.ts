import { describe, expect, it } from 'vitest';
import { escapeCell, unescapeCell } from '../../src/pipeline/report/escape-cell.js';

describe('escapeCell', () => {
  // Cases (OWASP CSV injection): = + - @ TAB CR at the start get a leading quote; anything else is kept.
  it.each([
    ['=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'],
    ['+1', "'+1"],
    ['-2', "'-2"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    ['\rcmd', "'\rcmd"],
  ])('prefixes %j with a quote', (input, expected) => {
    expect(escapeCell(input)).toBe(expected);
  });

  it.each(['', 'jdoe', 'a=b', ' =1', "'quoted", 'José Ñúñez', '5511987654321'])('leaves %j unchanged', (input) => {
    expect(escapeCell(input)).toBe(input);
  });
});

describe('unescapeCell', () => {
  it('gives back the original text for every escaped value', () => {
    for (const text of ['=1', '+55 11 98765-4321', '-x', '@a', '\tt', '\rr', 'plain', "'tis"]) {
      expect(unescapeCell(escapeCell(text))).toBe(text);
    }
  });

  it('keeps a quote that does not precede a trigger character', () => {
    expect(unescapeCell("'tis")).toBe("'tis");
  });

  it('cannot tell a typed quote before a trigger from an escape (the one ambiguity, accepted)', () => {
    expect(unescapeCell("'=already")).toBe('=already');
  });
});
