/**
 * Guards (SPEC §9): what a file's plan counts, and which counts go past their limits. Pure: the
 * apply stage feeds every row's diff to a tally while it plans, and asks it at the end whether the
 * plan may be applied.
 *
 * A guard counts users, never rows or fields: a user who would lose two privileged roles counts
 * once. A guard trips when its count is greater than its limit; -1 disables it.
 */
import { catalogKey, cleanCatalogName } from './catalog-name.js';
import type { StoredUser, UserDiff } from './merge.js';

export const GUARD_NAMES = [
  'deactivate',
  'mfaBypass',
  'privilegedGrant',
  'privilegedRevoke',
  'passwordReset',
  'rowDropPercent',
] as const;
export type GuardName = (typeof GUARD_NAMES)[number];

export type GuardLimits = Record<GuardName, number>;
export type GuardCounts = Record<GuardName, number>;

/** A guard whose count went past its limit, as reports, the register and `holds` show it. */
export interface GuardTrip {
  guard: GuardName;
  limit: number;
  planned: number;
  /** The first USERS_LISTED usernames the guard counts, in file order. */
  users: string[];
}

/** Usernames a tripped guard lists in reports (SPEC §9: the first 100). */
export const USERS_LISTED = 100;

/** What sentence a report and a log give each guard: `${planned} ${GUARD_WORDS[guard]}`. */
export const GUARD_WORDS: Record<GuardName, string> = {
  deactivate: 'active users would be deactivated',
  mfaBypass: 'users would have Ignore MFA turned on',
  privilegedGrant: 'users would gain a privileged role or group',
  privilegedRevoke: 'users would lose a privileged role or group',
  passwordReset: 'users would have their password changed',
  rowDropPercent: 'percent fewer rows than the last applied file of this feed',
};

export const zeroCounts = (): GuardCounts => Object.fromEntries(GUARD_NAMES.map((guard) => [guard, 0])) as GuardCounts;

/** The roles and groups whose grants and removals count, by matching key. */
export interface PrivilegedKeys {
  roles: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

export function privilegedKeys(names: { roles: readonly string[]; groups: readonly string[] }): PrivilegedKeys {
  const keys = (list: readonly string[]) => new Set(list.map((name) => catalogKey(cleanCatalogName(name))));
  return { roles: keys(names.roles), groups: keys(names.groups) };
}

/** Counts a plan, row by row, for every guard. */
export class GuardTally {
  readonly counts: GuardCounts = zeroCounts();
  private readonly users = new Map<GuardName, string[]>();

  constructor(private readonly privileged: PrivilegedKeys) {}

  /** One row's diff against the user as stored (undefined for a new user). */
  add(username: string, stored: StoredUser | undefined, diff: UserDiff): void {
    if (diff.kind === 'create') {
      if (this.gains(undefined, diff.next)) this.count('privilegedGrant', username);
      return;
    }
    if (diff.kind !== 'update' || !stored) return;
    const { next, changes } = diff;
    if (stored.active && !next.active) this.count('deactivate', username);
    if (!stored.ignoreMfa && next.ignoreMfa) this.count('mfaBypass', username);
    if (changes.includes('password')) this.count('passwordReset', username);
    if (changes.includes('roles') || changes.includes('groups')) {
      if (this.gains(stored, next)) this.count('privilegedGrant', username);
      if (this.gains(next, stored)) this.count('privilegedRevoke', username);
    }
  }

  /** Users counted elsewhere (a mirror's absent users, apply/mirror.ts), on top of the rows'. */
  countUsers(guard: GuardName, usernames: readonly string[]): void {
    for (const username of usernames) this.count(guard, username);
  }

  /** A count worked out elsewhere (the row drop), replacing the guard's. */
  set(guard: GuardName, count: number, users: readonly string[] = []): void {
    this.counts[guard] = count;
    this.users.set(guard, users.slice(0, USERS_LISTED));
  }

  /** The guards whose count is above their limit, unless allowed. */
  tripped(limits: GuardLimits, allowed: ReadonlySet<GuardName> = new Set()): GuardTrip[] {
    return GUARD_NAMES.filter((guard) => exceeds(this.counts[guard], limits[guard]) && !allowed.has(guard)).map(
      (guard) => ({ guard, limit: limits[guard], planned: this.counts[guard], users: this.users.get(guard) ?? [] }),
    );
  }

  /** Whether `to` holds a privileged role or group that `from` (undefined: nothing) does not. */
  private gains(
    from: { roleKeys: readonly string[]; groupKeys: readonly string[] } | undefined,
    to: { roleKeys: readonly string[]; groupKeys: readonly string[] },
  ): boolean {
    const { roles, groups } = this.privileged;
    if (roles.size > 0 && to.roleKeys.some((key) => roles.has(key) && !from?.roleKeys.includes(key))) return true;
    return groups.size > 0 && to.groupKeys.some((key) => groups.has(key) && !from?.groupKeys.includes(key));
  }

  private count(guard: GuardName, username: string): void {
    this.counts[guard]++;
    let listed = this.users.get(guard);
    if (!listed) this.users.set(guard, (listed = []));
    if (listed.length < USERS_LISTED) listed.push(username);
  }
}

export const exceeds = (count: number, limit: number): boolean => limit !== -1 && count > limit;

/** `--allow deactivate,mfaBypass` or `--allow all`: the guards named, checked against GUARD_NAMES. */
export function parseAllowed(text: string): Set<GuardName> | { unknown: string[] } {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.some((name) => name.toLowerCase() === 'all')) return new Set(GUARD_NAMES);
  const unknown = names.filter((name) => !(GUARD_NAMES as readonly string[]).includes(name));
  return unknown.length > 0 ? { unknown } : new Set(names as GuardName[]);
}
