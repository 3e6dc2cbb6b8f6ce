/**
 * What a command that changes the directory opens before its first change: the database
 * (migrated), with the configured catalogue ensured (app/configured-catalog.ts: the same rule as
 * the daemon's start), the audit trail, and the actor its events carry (app/actor.ts).
 */
import { commandLineActor } from '../app/actor.js';
import { ensureConfiguredCatalog } from '../app/configured-catalog.js';
import type { Database } from '../db/knex.js';
import { createAuditTrail, type AuditTrail } from '../pipeline/audit.js';
import type { CommandContext } from './context.js';

export interface OpenForChanges {
  db: Database;
  trail: AuditTrail;
  /** `user@host`, or the checked `--by` name. */
  actor: string;
}

/** `by`: the command's `--by NAME`, checked before anything is opened. */
export async function openForChanges(context: CommandContext, by?: string): Promise<OpenForChanges> {
  const actor = commandLineActor(by);
  const db = await context.database();
  const trail = createAuditTrail(context.auditLog(), db);
  const created = await ensureConfiguredCatalog(db, context.config.catalog, trail, actor);
  if (created.roles.length + created.groups.length > 0)
    context.logger.info('catalog.created', { ...created, fileOnly: true });
  return { db, trail, actor };
}
