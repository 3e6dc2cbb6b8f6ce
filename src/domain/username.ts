/**
 * Username normalisation (SPEC §1): the key that decides create vs update.
 *
 * trimmed → Unicode NFC → lower-cased. Compared exactly afterwards on every database, so
 * `JDoe` = `jdoe` but `José` ≠ `jose` (the column has a binary collation on MySQL/MariaDB).
 */

/** Zero-width characters Excel users paste in without seeing them. */
const INVISIBLE = /[\u200B\u2060\uFEFF]/g; // not ZWNJ/ZWJ (U+200C/D): scripts and emoji need them

export function normaliseUsername(text: string): string {
  return text.replace(INVISIBLE, '').trim().normalize('NFC').toLowerCase();
}

/** Compiles import.usernamePattern once (Unicode mode, so \p{L} works). */
export function compileUsernamePattern(pattern: string): RegExp {
  return new RegExp(pattern, 'u');
}

export function isValidUsername(username: string, pattern: RegExp): boolean {
  return pattern.test(username);
}
