/**
 * Protected accounts (SPEC §9): users no import may touch, and roles or groups no import may grant
 * or remove. Pure: the apply stage asks these while it prepares a batch. They are not guards — they
 * fail single rows, whatever `safety.enabled` says, in dry runs too.
 *
 * Cases for a protected role or group (P) on one row:
 * - Roles / User group cell blank          → the set is kept: nothing granted or removed;
 * - new user listing P                     → granted (creating a user with P is a grant);
 * - stored user without P, cell lists P    → granted;
 * - stored user with P, cell lists P       → unchanged: fine;
 * - stored user with P, cell without P     → removed (a non-blank cell replaces the set);
 * - stored user with P, the clear marker   → removed (the marker is the empty set).
 * A name may be a role, a group or both: the same names are checked in both columns.
 */
import picomatch from 'picomatch';
import { catalogKey, cleanCatalogName } from './catalog-name.js';
import type { ListItem } from './lists.js';

/**
 * Whether a normalised username matches one of `safety.protectedUsers`; undefined when none are
 * configured, so the common case costs nothing per row. Patterns are normalised like usernames
 * (NFC, lower-cased) and matched case-insensitively; `dot` lets `*` match names starting with a dot.
 */
export function protectedUserMatcher(patterns: readonly string[]): ((username: string) => boolean) | undefined {
  const cleaned = patterns.map((pattern) => pattern.trim().normalize('NFC').toLowerCase()).filter(Boolean);
  if (cleaned.length === 0) return undefined;
  return picomatch(cleaned, { nocase: true, dot: true });
}

/** `safety.protectedRoles` by catalogue matching key, each with its name as configured. */
export type ProtectedNames = ReadonlyMap<string, string>;

export function protectedNames(names: readonly string[]): ProtectedNames {
  return new Map(names.map((name) => [catalogKey(name), cleanCatalogName(name)]));
}

/** A protected role or group one row would grant or remove. */
export interface ProtectedChange {
  /** As configured in safety.protectedRoles. */
  name: string;
  column: 'roles' | 'groups';
  change: 'grant' | 'remove';
}

/** The user's memberships as stored (undefined: a new user, who has none). */
export interface StoredMemberships {
  roleKeys: readonly string[];
  groupKeys: readonly string[];
}

/** What the row asks for: undefined keeps the stored set, a list (even empty) replaces it. */
export interface WantedMemberships {
  roles?: readonly string[] | undefined;
  groups?: readonly ListItem[] | undefined;
}

/** The first protected role or group the row would grant or remove, if any. */
export function protectedChange(
  stored: StoredMemberships | undefined,
  wanted: WantedMemberships,
  names: ProtectedNames,
): ProtectedChange | undefined {
  if (names.size === 0) return undefined;
  if (wanted.roles !== undefined) {
    const found = changeOf(stored?.roleKeys ?? [], wanted.roles, names);
    if (found) return { ...found, column: 'roles' };
  }
  if (wanted.groups !== undefined) {
    const found = changeOf(
      stored?.groupKeys ?? [],
      wanted.groups.map((group) => group.key),
      names,
    );
    if (found) return { ...found, column: 'groups' };
  }
  return undefined;
}

function changeOf(
  before: readonly string[],
  after: readonly string[],
  names: ProtectedNames,
): Omit<ProtectedChange, 'column'> | undefined {
  for (const key of after)
    if (names.has(key) && !before.includes(key)) return { name: names.get(key)!, change: 'grant' };
  for (const key of before)
    if (names.has(key) && !after.includes(key)) return { name: names.get(key)!, change: 'remove' };
  return undefined;
}

/** The failed row's message: which protected role or group, granted or removed, and what to do. */
export function protectedChangeMessage(username: string, found: ProtectedChange): string {
  const what = `${found.column === 'roles' ? 'role' : 'user group'} "${found.name}"`;
  const column = found.column === 'roles' ? 'Roles' : 'User group';
  const fix =
    found.change === 'grant'
      ? `take "${found.name}" out of the ${column} cell, and grant it by hand if it is meant`
      : `keep "${found.name}" in the ${column} cell (or leave the cell blank), and remove it by hand if it is meant`;
  const verb = found.change === 'grant' ? `grant the protected ${what} to` : `remove the protected ${what} from`;
  return `This row would ${verb} "${username}" (safety.protectedRoles); ${fix}.`;
}

/** The failed row's message for a protected user. */
export function protectedUserMessage(username: string): string {
  return `"${username}" is a protected user (safety.protectedUsers): no import may create or change it; leave the row out and change the account by hand.`;
}
