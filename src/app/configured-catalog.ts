/**
 * The configured catalogue, `catalog.roles` and `catalog.groups`: ensured to exist (never deleted)
 * by every command that changes the directory, before its first change — the daemon at start,
 * `usersync import`, `roles|groups add|remove`, `users activate|deactivate` — so a command line on
 * a fresh database accepts exactly the rows the daemon would. Each entry created is an audit event
 * (`role.created` / `group.created`) with the actor of the command that created it.
 *
 * Once the entries exist (every run but the first) this costs one select of two counts.
 */
import type { Config } from '../config/schema.js';
import { withBusyRetries } from '../db/errors.js';
import type { Database } from '../db/knex.js';
import type { AuditEvent } from '../db/repositories/audit.js';
import { addCatalogNames } from '../db/repositories/catalog.js';
import { isoNow, type Clock } from '../db/time.js';
import { catalogKey, cleanCatalogName } from '../domain/catalog-name.js';
import type { AuditTrail } from '../pipeline/audit.js';

export interface EnsuredCatalog {
  /** Names created by this call (empty when every configured one existed). */
  roles: string[];
  groups: string[];
}

export async function ensureConfiguredCatalog(
  db: Database,
  catalog: Config['catalog'],
  trail: AuditTrail,
  actor: string,
  clock?: Clock,
): Promise<EnsuredCatalog> {
  // Two processes ensuring at once (the daemon and a command line on a fresh database): the
  // later insert meets the other's row (DB_CONFLICT), or on SQLite its read snapshot is older
  // than the other's commit (SQLITE_BUSY_SNAPSHOT, DB_BUSY); checking again finds the rows there.
  return withBusyRetries(db.location, async () =>
    (await allPresent(db, catalog)) ? { roles: [], groups: [] } : create(db, catalog, trail, actor, clock),
  );
}

/** True when every configured name has its entry, by key: one select of two counts. */
async function allPresent(db: Database, catalog: Config['catalog']): Promise<boolean> {
  const keys = (names: readonly string[]) => [...new Set(names.map((name) => catalogKey(cleanCatalogName(name))))];
  const roles = keys(catalog.roles);
  const groups = keys(catalog.groups);
  if (roles.length + groups.length === 0) return true;
  const count = (table: string, wanted: string[], as: string) =>
    db
      .knex(table)
      .whereIn('name_key', wanted.length > 0 ? wanted : [''])
      .count('*')
      .as(as);
  const [row] = (await db.knex.select(
    count('roles', roles, 'roles'),
    count('user_groups', groups, 'groups'),
  )) as Array<{
    roles: number | string;
    groups: number | string;
  }>;
  return Number(row?.roles) === roles.length && Number(row?.groups) === groups.length;
}

async function create(
  db: Database,
  catalog: Config['catalog'],
  trail: AuditTrail,
  actor: string,
  clock?: Clock,
): Promise<EnsuredCatalog> {
  const events: AuditEvent[] = [];
  const created = await db.knex.transaction(async (trx) => {
    const roles = (await addCatalogNames(trx, 'roles', catalog.roles, clock)).created;
    const groups = (await addCatalogNames(trx, 'groups', catalog.groups, clock)).created;
    const at = isoNow(clock);
    const event = (action: 'role.created' | 'group.created', key: string) => (name: string) => ({
      at,
      importId: null,
      row: null,
      username: null,
      action,
      changes: { name, config: key },
      actor,
    });
    events.push(
      ...roles.map(event('role.created', 'catalog.roles')),
      ...groups.map(event('group.created', 'catalog.groups')),
    );
    await trail.record(trx, events);
    return { roles, groups };
  });
  trail.committed(events);
  return created;
}
