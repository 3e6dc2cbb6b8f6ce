/**
 * Prepares a batch for writing, outside any transaction: validates every row (domain rules), loads
 * the stored state of its users, and settles passwords — verified against the stored hash (same
 * password = unchanged) or hashed — so no argon2 work ever runs while a database lock is held
 * (PITFALLS §4.11, §11). Plain-text passwords do not survive this step.
 *
 * Batch N+1 is prepared while batch N is written, so on MariaDB its stored users are read on
 * another connection while the server works on batch N (the look-up was 1.5 s of a 5.4 s unchanged
 * 100k re-import, all of it waiting). That is safe because a file's valid rows have distinct
 * usernames (a repeated one fails as a duplicate), so batch N never writes a user batch N+1 reads;
 * the import only creates departments and groups, never renames them. A concurrent
 * change by another process between this read and the upsert is not locked out.
 */
import type { Knex } from 'knex';
import type { RawRow } from '../../domain/columns.js';
import type { PreparedIntent, StoredUser } from '../../domain/merge.js';
import { protectedChange, protectedChangeMessage, type ProtectedNames } from '../../domain/protected.js';
import { checkRow, type RowRules } from '../../domain/row-intent.js';
import type { SeenUsernames } from '../../domain/username-index.js';
import type { Dialect } from '../../db/knex.js';
import type { PasswordHasher } from '../passwords.js';
import { loadStoredUsers, type MembershipKeys } from './stored-users.js';

export interface FailedRow {
  row: number;
  username: string;
  code: string;
  message: string;
  raw: RawRow;
}

export interface PreparedBatch {
  intents: PreparedIntent[];
  /** The raw row of each intent (same order), for the Failed rows sheet should writing fail it. */
  raws: RawRow[];
  failed: FailedRow[];
  /** Every row of the batch in file order: an intent index (>= 0) or a failed index (-1 - i). */
  order: number[];
  /** The stored state of the intents' users that exist, by username. */
  stored: Map<string, StoredUser>;
}

export interface PrepareContext {
  rules: RowRules;
  seen: SeenUsernames;
  hasher: PasswordHasher;
  passwordPolicy: 'always' | 'create-only';
  dialect: Dialect;
  maxInParams: number;
  /** safety.protectedRoles: a row that would grant or remove one fails (SPEC §9). */
  protectedRoles: ProtectedNames;
  /** Role and group keys of the stored users' membership ids. */
  membershipKeys: MembershipKeys;
  /** Runs the stored-user look-up, turning a driver's error into the project's (db/errors.ts). */
  onDatabase<T>(work: () => Promise<T>): Promise<T>;
}

/** `handle` names the connection for the stored-user look-up when it is made (after validation). */
export async function prepareBatch(
  handle: () => Knex | Promise<Knex>,
  rows: readonly RawRow[],
  context: PrepareContext,
): Promise<PreparedBatch> {
  const batch: PreparedBatch = { intents: [], raws: [], failed: [], order: [], stored: new Map() };
  const withPassword: Array<{ intent: PreparedIntent; password: string }> = [];
  for (const raw of rows) {
    const checked = checkRow(raw, context.rules, context.seen);
    if (!checked.ok) {
      const [first] = checked.problems;
      batch.order.push(-1 - batch.failed.length);
      batch.failed.push({
        row: raw.row,
        username: checked.username,
        code: first?.code ?? 'ROW_INVALID_VALUE',
        message: checked.problems.map((p) => p.message).join(' '),
        raw,
      });
      continue;
    }
    const { password, ...rest } = checked.intent;
    const intent: PreparedIntent = rest;
    if (password !== undefined) withPassword.push({ intent, password });
    batch.order.push(batch.intents.length);
    batch.intents.push(intent);
    batch.raws.push(raw);
  }
  const usernames = batch.intents.map((i) => i.username);
  batch.stored = await context.onDatabase(async () =>
    loadStoredUsers(await handle(), context.dialect, usernames, context.maxInParams, context.membershipKeys),
  );
  // Whether a row grants or removes a role depends on what the user has: only now can it be told.
  const refused = failProtectedChanges(batch, context.protectedRoles);
  const toSettle = refused.size === 0 ? withPassword : withPassword.filter(({ intent }) => !refused.has(intent));
  if (toSettle.length > 0) await settlePasswords(toSettle, batch.stored, context);
  return batch;
}

/**
 * Moves the intents that would grant or remove a protected role or group to `batch.failed`,
 * keeping `order` in file order (its intent indices renumbered) and `raws` beside `intents`; their
 * users leave `stored`, which holds only the intents' users. Returns the intents it moved.
 * A revert's batches (pipeline/revert/) are checked the same way.
 */
export function failProtectedChanges(batch: PreparedBatch, names: ProtectedNames): Set<PreparedIntent> {
  const refused = new Set<PreparedIntent>();
  if (names.size === 0) return refused;
  /** Old intent index → its new place in `order`'s terms (intent index, or -1 - failed index). */
  const moved = new Map<number, number>();
  const intents: PreparedIntent[] = [];
  const raws: RawRow[] = [];
  batch.intents.forEach((intent, i) => {
    const raw = batch.raws[i]!;
    const found =
      intent.roles === undefined && intent.groups === undefined
        ? undefined
        : protectedChange(batch.stored.get(intent.username), intent, names);
    if (found) {
      refused.add(intent);
      moved.set(i, -1 - batch.failed.length);
      batch.failed.push({
        row: intent.row,
        username: intent.username,
        code: 'ROW_PROTECTED_ROLE',
        message: protectedChangeMessage(intent.username, found),
        raw,
      });
      batch.stored.delete(intent.username);
      return;
    }
    moved.set(i, intents.length);
    intents.push(intent);
    raws.push(raw);
  });
  if (refused.size === 0) return refused;
  batch.intents = intents;
  batch.raws = raws;
  batch.order = batch.order.map((index) => (index < 0 ? index : moved.get(index)!));
  return refused;
}

async function settlePasswords(
  rows: Array<{ intent: PreparedIntent; password: string }>,
  stored: Map<string, StoredUser>,
  context: PrepareContext,
): Promise<void> {
  await Promise.all(
    rows.map(async ({ intent, password }) => {
      const user = stored.get(intent.username);
      if (user !== undefined && context.passwordPolicy === 'create-only') return; // never overwrite
      const existing = user?.passwordHash;
      if (existing && (await context.hasher.verify(existing, password))) return; // same password: unchanged
      intent.passwordHash = await context.hasher.hash(password);
    }),
  );
}
