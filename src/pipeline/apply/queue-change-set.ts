/**
 * Queues a batch's change set on a writer thread (db/statement-writer.ts) as statements that need
 * nothing back: new departments and groups are inserted (`on conflict do nothing`), users refer
 * to their department by key, memberships to their user by username and to their group by key —
 * so no statement waits for another's ids.
 */
import type { Knex } from 'knex';
import { bulkStatements, type BulkInsert } from '../../db/bulk.js';
import { findCatalogIds } from '../../db/repositories/catalog.js';
import type { AuditEvent } from '../../db/repositories/audit.js';
import type { ImportWriter } from '../../db/statement-writer.js';
import { chunk } from '../../db/time.js';
import {
  MERGE_COLUMNS,
  USER_COLUMNS,
  batchEvents,
  catalogEvent,
  forEachMembershipChange,
  type ChangeContext,
  type ChangeSet,
} from './change-set.js';
import type { WriteTarget } from './write-change-set.js';

/** What the writer thread's path keeps across an import's batches. */
export interface QueueState {
  /** Where departments are looked up: the import's own connection, outside the writer's transaction. */
  lookup: Knex;
  /** Departments known to exist (read, or created by this import), by key. */
  departments: Set<string>;
}

/** Queues `changes` on `writer`; resolves to the batch's audit events, for the caller to queue after them. */
export async function queueChangeSet(
  writer: ImportWriter,
  changes: ChangeSet,
  ctx: ChangeContext,
  target: WriteTarget,
  state: QueueState,
): Promise<AuditEvent[]> {
  const catalogEvents: AuditEvent[] = [];
  const statements = (insert: BulkInsert) => writer.queue(bulkStatements(target.dialect, target.maxInsertRows, insert));

  // Departments not seen yet are looked up in what is committed; those missing are inserted
  // (another process adding the same one meanwhile makes that insert a no-op, not a failure).
  const wanted = changes.departments;
  const unknown = [...wanted.keys()].filter((key) => !state.departments.has(key));
  if (unknown.length > 0) {
    for (const key of (await findCatalogIds(state.lookup, 'departments', unknown)).keys()) state.departments.add(key);
    const missing = unknown
      .filter((key) => !state.departments.has(key))
      .map((key) => [wanted.get(key) as string, key, ctx.now]);
    if (missing.length > 0) {
      statements({
        table: 'departments',
        columns: ['name', 'name_key', 'created_at'],
        rows: missing,
        conflict: { column: 'name_key', merge: [] },
      });
      for (const [name, key] of missing) {
        state.departments.add(key as string);
        catalogEvents.push(catalogEvent(ctx, 'department.created', name as string));
      }
    }
  }
  const { newGroups } = changes;
  if (newGroups.size > 0) {
    statements({
      table: 'user_groups',
      columns: ['name', 'name_key', 'created_at'],
      rows: [...newGroups].map(([key, name]) => [name, key, ctx.now]),
      conflict: { column: 'name_key', merge: [] },
    });
    for (const [key, name] of newGroups) {
      // Its id is never needed on this path (memberships name groups by key); -1 marks it unread.
      ctx.catalog.groups.set(key, { id: -1, name });
      catalogEvents.push(catalogEvent(ctx, 'group.created', name));
    }
  }

  const events = batchEvents(changes, catalogEvents);
  const { creates, updates } = changes;
  if (creates.length + updates.length === 0) return events;
  // New users by a plain insert: one another process created since the look-up fails the batch
  // (DB_CONFLICT, retried) instead of being overwritten and audited as created. On MySQL their
  // ids then follow from the insert's (mysql-writer.ts), without a select.
  if (creates.length > 0)
    statements({
      table: 'users',
      columns: USER_COLUMNS,
      rows: creates,
      references: { department_id: BY_KEY('departments') },
      identifies: 'username',
    });
  if (updates.length > 0)
    statements({
      table: 'users',
      columns: USER_COLUMNS,
      rows: updates,
      conflict: { column: 'username', merge: MERGE_COLUMNS },
      references: { department_id: BY_KEY('departments') },
    });
  const membership = (
    table: string,
    column: string,
    field: 'roles' | 'groups',
    reference: { table: string; key: string } | undefined,
    value: (key: string) => unknown,
  ) => {
    const storedIds: number[] = [];
    const pairs: unknown[][] = [];
    forEachMembershipChange(changes, field, (username, storedId, keys) => {
      // A user created by this batch has no memberships yet: only stored users' sets are deleted.
      if (storedId !== undefined) storedIds.push(storedId);
      for (const key of keys) pairs.push([username, value(key)]);
    });
    for (const part of chunk(storedIds, target.maxInParams))
      writer.queue([
        { sql: `delete from \`${table}\` where \`user_id\` in (${part.map(() => '?').join(',')})`, rows: [part] },
      ]);
    statements({
      table,
      columns: ['user_id', column],
      rows: pairs,
      references: { user_id: { table: 'users', key: 'username' }, ...(reference ? { [column]: reference } : {}) },
    });
  };
  membership('user_roles', 'role_id', 'roles', undefined, (key) => ctx.catalog.roles.get(key)?.id);
  membership('user_group_members', 'group_id', 'groups', BY_KEY('user_groups'), (key) => key);
  return events;
}

const BY_KEY = (table: string) => ({ table, key: 'name_key' });
