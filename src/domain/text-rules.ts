/**
 * Rules every stored text obeys: no control characters and no bidirectional overrides (a name with
 * U+202E can display as something else entirely), and a length limit per column.
 */

// C0/C1 controls, and the bidi embedding/override/isolate controls.
const CONTROL = '\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069';
// Without the u flag (V8 runs it faster); every character listed is in the BMP, so it matches the same.
const FORBIDDEN = new RegExp(`[${CONTROL}]`);
const UNPRINTABLE = new RegExp(`[${CONTROL}]`, 'gu');

/** Zero-width characters pasted in from web pages and chats: never part of a value. */
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF]/g;

/** The text without zero-width characters (the one definition the reader and the rules share). */
export const stripInvisible = (text: string): string => text.replace(INVISIBLE, '');

/** The first forbidden character as `U+XXXX`, or undefined when the text is clean. */
export function forbiddenCharacter(text: string): string | undefined {
  const match = FORBIDDEN.exec(text);
  if (!match) return undefined;
  return `U+${(match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Text safe to print on a terminal: control and bidi characters shown as '?'. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, '?');
}

/**
 * Length in characters as a person counts them (code points; a lone surrogate counts as one, as
 * the string iterator does). Counted by char code: the iterator made a string per character, and
 * this runs on several cells of every row.
 */
export const textLength = (text: string): number => {
  let n = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
};
