/**
 * Roles and User group cells hold lists separated by `,` `;` or line breaks (SPEC §1), matched
 * case-insensitively. Duplicates within one cell count once.
 */
import { catalogKey, cleanCatalogName } from './catalog-name.js';

export interface ListItem {
  /** As written (cleaned), for messages and for creating missing groups. */
  name: string;
  /** The catalogue matching key. */
  key: string;
}

export function splitList(text: string): ListItem[] {
  const seen = new Set<string>();
  const items: ListItem[] = [];
  for (const part of text.split(/[,;\r\n]+/)) {
    const name = cleanCatalogName(part);
    if (!name) continue;
    const key = catalogKey(name);
    if (seen.has(key)) continue;
    seen.add(key);
    items.push({ name, key });
  }
  return items;
}
