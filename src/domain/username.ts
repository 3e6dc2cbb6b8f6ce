/**
 * Username normalisation (SPEC §1): the key that decides create vs update.
 *
 * trimmed → Unicode NFC → lower-cased. Compared exactly afterwards on every database, so
 * `JDoe` = `jdoe` but `José` ≠ `jose` (the column has a binary collation on MySQL/MariaDB).
 */
import { stripInvisible } from './text-rules.js';

export function normaliseUsername(text: string): string {
  return stripInvisible(text).trim().normalize('NFC').toLowerCase();
}

/** Compiles import.usernamePattern once (Unicode mode, so \p{L} works). */
export function compileUsernamePattern(pattern: string): RegExp {
  return new RegExp(pattern, 'u');
}

export function isValidUsername(username: string, pattern: RegExp): boolean {
  return pattern.test(username);
}
