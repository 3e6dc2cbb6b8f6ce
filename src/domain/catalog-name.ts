/**
 * Department, role and group names are matched case- and space-insensitively (SPEC §1):
 * `  Human   Resources ` finds `human resources`. The display name keeps its first spelling.
 */
import { stripInvisible } from './text-rules.js';

export const MAX_NAME_LENGTH = 191;

/** The display form: inner runs of whitespace collapsed, trimmed, NFC. */
export function cleanCatalogName(text: string): string {
  let clean = cleaned.get(text);
  if (clean === undefined) {
    clean = stripInvisible(text).replace(/\s+/gu, ' ').trim().normalize('NFC');
    if (text.length <= MAX_NAME_LENGTH * 2) {
      if (cleaned.size >= MAX_REMEMBERED) cleaned.clear();
      cleaned.set(text, clean);
    }
  }
  return clean;
}

/**
 * Department, role and group cells repeat the same few names on every row, and each is cleaned
 * two or three times per row (name, key, length check): ~0.13 s of a 100k-row import (--cpu-prof).
 * The cleaned text of a name-sized cell is remembered; the map is emptied when it reaches
 * MAX_REMEMBERED, so a file of all-different names costs what it did and memory stays bounded.
 */
const cleaned = new Map<string, string>();
const MAX_REMEMBERED = 10_000;

/** The matching key stored in `name_key`: the display form lower-cased. */
export function catalogKey(text: string): string {
  return cleanCatalogName(text).toLowerCase();
}
