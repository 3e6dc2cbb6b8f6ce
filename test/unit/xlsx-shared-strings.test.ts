import { describe, expect, it } from 'vitest';
import { SharedStringsScanner } from '../../src/xlsx/sheet/shared-strings.js';

/** Every string of `xml`, fed in chunks of `size` characters. */
function scan(xml: string, size = xml.length): string[] {
  const strings: string[] = [];
  const scanner = new SharedStringsScanner((text) => strings.push(text));
  for (let at = 0; at < xml.length; at += size) scanner.write(xml.slice(at, at + size));
  scanner.end();
  return strings;
}

const sst = (items: string) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="9" uniqueCount="9">${items}</sst>`;

describe('shared strings scanner', () => {
  const items = [
    '<si><t>alice</t></si>',
    '<si><t xml:space="preserve"> two  spaces </t></si>',
    '<si><r><rPr><b/><sz val="11"/><rFont val="Calibri"/></rPr><t>Ann </t></r><r><t>Lee</t></r></si>',
    '<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/></si>',
    '<si/>',
    '<si><t/></si>',
    '<si><t>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;</t></si>',
    '<si><t>line\r\nbreak\rold mac&#13;kept</t></si>',
    '<si>\n  <t>indented</t>\n</si>',
  ];
  const expected = [
    'alice',
    ' two  spaces ',
    'Ann Lee',
    '漢字',
    '',
    '',
    'a & b <c> "d" \'e\' é😀',
    'line\nbreak\nold mac\rkept',
    'indented',
  ];

  it('reads plain, preserved, rich, phonetic, empty, escaped and indented strings', () => {
    expect(scan(sst(items.join('')))).toEqual(expected);
  });

  it('reads the same whatever the chunks are cut at', () => {
    const xml = sst(items.join(''));
    for (const size of [1, 2, 3, 5, 7, 16, 64]) expect(scan(xml, size), `chunks of ${size}`).toEqual(expected);
  });

  it('reads items that need a real XML parser through saxes: CDATA, comments', () => {
    expect(
      scan(sst('<si><t><![CDATA[a <b> & c]]></t></si><si><!-- note --><t>x</t></si><si><t>after</t></si>'), 5),
    ).toEqual(['a <b> & c', 'x', 'after']);
  });

  it('does not take other elements beginning with the same letters for strings or texts', () => {
    expect(scan(sst('<si><tx>no</tx><t>yes</t></si><sis/>'))).toEqual(['yes']);
  });

  it('fails malformed XML as saxes does: an undefined entity, a bare &, an invalid character reference', () => {
    expect(() => scan(sst('<si><t>&nbsp;</t></si>'))).toThrow(/entity/i);
    expect(() => scan(sst('<si><t>a & b</t></si>'))).toThrow();
    expect(() => scan(sst('<si><t>&#0;</t></si>'))).toThrow();
  });

  it('reads an empty table written as one self-closed element', () => {
    expect(
      scan('<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>', 7),
    ).toEqual([]);
  });

  it('fails a part cut short, inside a string or after one', () => {
    expect(() => scan(sst('<si><t>alice</t></si><si><t>bo'))).toThrow(/unclosed tag: si/);
    expect(() => scan(sst('<si><t>alice</t></si>').replace('</sst>', ''))).toThrow(/unclosed tag: sst/);
  });
});
