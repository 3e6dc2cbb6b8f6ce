/**
 * Department, role and group names are matched case- and space-insensitively (SPEC §1):
 * `  Human   Resources ` finds `human resources`. The display name keeps its first spelling.
 */
import { stripInvisible } from './text-rules.js';

export const MAX_NAME_LENGTH = 191;

/** The display form: inner runs of whitespace collapsed, trimmed, NFC. */
export function cleanCatalogName(text: string): string {
  return stripInvisible(text).replace(/\s+/gu, ' ').trim().normalize('NFC');
}

/** The matching key stored in `name_key`: the display form lower-cased. */
export function catalogKey(text: string): string {
  return cleanCatalogName(text).toLowerCase();
}
