/**
 * Prepares a batch for writing, outside any transaction: validates every row (domain rules) and
 * settles passwords — verified against the stored hash (same password = unchanged) or hashed —
 * so no argon2 work ever runs while a database lock is held (PITFALLS §4.11, §11).
 * Plain-text passwords do not survive this step.
 */
import type { Knex } from 'knex';
import type { RawRow } from '../../domain/columns.js';
import type { PreparedIntent } from '../../domain/merge.js';
import { checkRow, type RowRules } from '../../domain/row-intent.js';
import { chunk } from '../../db/time.js';
import type { PasswordHasher } from '../passwords.js';

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
}

export interface PrepareContext {
  rules: RowRules;
  seen: Map<string, number>;
  hasher: PasswordHasher;
  passwordPolicy: 'always' | 'create-only';
  maxInParams: number;
}

export async function prepareBatch(knex: Knex, rows: readonly RawRow[], context: PrepareContext): Promise<PreparedBatch> {
  const batch: PreparedBatch = { intents: [], raws: [], failed: [], order: [] };
  const withPassword: Array<{ intent: PreparedIntent; password: string }> = [];
  for (const raw of rows) {
    const checked = checkRow(raw, context.rules, context.seen);
    if (!checked.ok) {
      const [first] = checked.problems;
      batch.order.push(-1 - batch.failed.length);
      batch.failed.push({ row: raw.row, username: checked.username, code: first?.code ?? 'ROW_INVALID_VALUE', message: checked.problems.map((p) => p.message).join(' '), raw });
      continue;
    }
    const { password, ...rest } = checked.intent;
    const intent: PreparedIntent = rest;
    if (password !== undefined) withPassword.push({ intent, password });
    batch.order.push(batch.intents.length);
    batch.intents.push(intent);
    batch.raws.push(raw);
  }
  if (withPassword.length > 0) await settlePasswords(knex, withPassword, context);
  return batch;
}

async function settlePasswords(knex: Knex, rows: Array<{ intent: PreparedIntent; password: string }>, context: PrepareContext): Promise<void> {
  const stored = new Map<string, string | null>();
  for (const part of chunk(rows.map((r) => r.intent.username), context.maxInParams)) {
    const found = (await knex('users').select('username', 'password_hash').whereIn('username', part)) as Array<{ username: string; password_hash: string | null }>;
    for (const row of found) stored.set(row.username, row.password_hash);
  }
  await Promise.all(
    rows.map(async ({ intent, password }) => {
      const existing = stored.get(intent.username);
      if (existing !== undefined && context.passwordPolicy === 'create-only') return; // never overwrite
      if (existing && (await context.hasher.verify(existing, password))) return; // same password: unchanged
      intent.passwordHash = await context.hasher.hash(password);
    }),
  );
}
