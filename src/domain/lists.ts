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

/**
 * The cell's items, in order, without repeats. Role and group cells repeat a few lists on every
 * row ("Auditor; Operator"), so the (frozen) result of a list-sized cell is remembered: splitting,
 * cleaning and de-duplicating each again was ~0.2 KB of garbage a row. Bounded like catalog-name's.
 */
export function splitList(text: string): readonly ListItem[] {
  let items = remembered.get(text);
  if (items === undefined) {
    items = Object.freeze(split(text));
    if (text.length <= MAX_REMEMBERED_CHARS) {
      if (remembered.size >= MAX_REMEMBERED) remembered.clear();
      remembered.set(text, items);
    }
  }
  return items;
}

const remembered = new Map<string, readonly ListItem[]>();
const MAX_REMEMBERED = 10_000;
const MAX_REMEMBERED_CHARS = 1024;

function split(text: string): ListItem[] {
  const seen = new Set<string>();
  const items: ListItem[] = [];
  for (const part of text.split(/[,;\r\n]+/)) {
    const name = cleanCatalogName(part);
    if (!name) continue;
    const key = catalogKey(name);
    if (seen.has(key)) continue;
    seen.add(key);
    items.push(Object.freeze({ name, key }));
  }
  return items;
}
