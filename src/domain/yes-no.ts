/**
 * Yes/No cells (SPEC §1): Yes/No, Y/N, True/False, 1/0, Excel booleans (read as TRUE/FALSE) and the
 * Portuguese template's Sim/Não — case- and accent-insensitive. Anything else is undefined, which
 * fails the row: guessing would flip a user's access.
 */
const TRUTHY = new Set(['yes', 'y', 'true', '1', 'sim', 's', 'verdadeiro', 'x']);
const FALSY = new Set(['no', 'n', 'false', '0', 'nao', 'falso']);

export function parseYesNo(text: string): boolean | undefined {
  // Nearly every cell is a plain word: no accent to strip, so no decomposition needed.
  const plain = text.trim().toLowerCase();
  if (TRUTHY.has(plain)) return true;
  if (FALSY.has(plain)) return false;
  const key = text.normalize('NFD').replace(/\p{M}/gu, '').trim().toLowerCase();
  if (TRUTHY.has(key)) return true;
  if (FALSY.has(key)) return false;
  return undefined;
}
