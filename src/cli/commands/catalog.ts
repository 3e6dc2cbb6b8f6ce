/**
 * The catalogue: `roles add|list|remove`, `groups add|list|remove`, `departments list`.
 * Adding an existing name (any case) creates nothing and is not an error; removing a role or
 * group still held by users is refused, saying how many hold it, and so is removing one the
 * configuration lists. Changes are audited with the command line's actor.
 */
import type { AuditEvent } from '../../db/repositories/audit.js';
import { printable } from '../../domain/text-rules.js';
import { addCatalogNames, listCatalog, removeCatalogNames, type CatalogKind } from '../../db/repositories/catalog.js';
import { withBusyRetries, withDatabaseErrors } from '../../db/errors.js';
import { isoNow } from '../../db/time.js';
import { catalogKey, cleanCatalogName } from '../../domain/catalog-name.js';
import { fail } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { openForChanges } from '../open-for-changes.js';
import type { CommandModule } from '../command-module.js';

const SINGULAR: Record<CatalogKind, string> = { roles: 'role', groups: 'user group', departments: 'department' };

async function printList(context: CommandContext, kind: CatalogKind, json: boolean): Promise<void> {
  const db = await context.database();
  const entries = await withDatabaseErrors(db.location, () => listCatalog(db.knex, kind));
  if (json) {
    await context.out.json(entries.map(({ name, users, createdAt }) => ({ name, users, createdAt })));
    return;
  }
  if (entries.length === 0) {
    await context.out.write(
      `No ${kind} yet in ${db.description}.${kind === 'departments' ? ' Imports create them.' : ` Add one with \`usersync ${kind} add <name>\`.`}\n`,
    );
    return;
  }
  await context.out.table(
    ['NAME', 'USERS', 'CREATED'],
    entries.map((e) => [e.name, e.users, e.createdAt]),
  );
}

function membershipCommand(kind: 'roles' | 'groups'): CommandModule {
  return (cli, run) =>
    cli.command(kind, `Manage ${kind === 'roles' ? 'roles' : 'user groups'}`, (y) =>
      y
        .command(
          `add <name..>`,
          `Create ${kind} (existing names, in any case, are left alone)`,
          (c) =>
            c
              .positional('name', { type: 'string', array: true, demandOption: true })
              .option('json', { type: 'boolean', default: false }),
          (args) =>
            run(args, {}, async (context) => {
              const { db, trail, actor } = await openForChanges(context);
              const names = (args.name ?? []).map(String);
              const events: AuditEvent[] = [];
              const result = await withBusyRetries(db.location, () =>
                db.knex.transaction(async (trx) => {
                  events.length = 0; // a try again starts afresh
                  const added = await addCatalogNames(trx, kind, names);
                  const at = isoNow();
                  const action = kind === 'roles' ? 'role.created' : 'group.created';
                  events.push(
                    ...added.created.map(
                      (name) =>
                        ({ at, importId: null, row: null, username: null, action, changes: { name }, actor }) as const,
                    ),
                  );
                  await trail.record(trx, events);
                  return added;
                }),
              );
              trail.committed(events);
              context.logger.info(`${kind}.added`, {
                created: result.created,
                existing: result.existing,
                fileOnly: true,
              });
              if (args.json) return context.out.json(result);
              for (const name of result.created)
                await context.out.write(`created ${SINGULAR[kind]} "${printable(name)}"\n`);
              for (const name of result.existing)
                await context.out.write(`${SINGULAR[kind]} "${printable(name)}" already exists\n`);
            }),
        )
        .command(
          'list',
          `List ${kind} with the number of users holding each`,
          (c) => c.option('json', { type: 'boolean', default: false }),
          (args) => run(args, { readOnly: true }, (context) => printList(context, kind, Boolean(args.json))),
        )
        .command(
          `remove <name..>`,
          `Remove ${kind} no user holds`,
          (c) =>
            c
              .positional('name', { type: 'string', array: true, demandOption: true })
              .option('json', { type: 'boolean', default: false }),
          (args) =>
            run(args, {}, async (context) => {
              const names = (args.name ?? []).map(String);
              refuseConfigured(kind, names, context.config.catalog[kind]);
              const { db, trail, actor } = await openForChanges(context);
              const result = await withDatabaseErrors(db.location, () => removeCatalogNames(db.knex, kind, names));
              if (result.removed.length > 0) {
                const at = isoNow();
                const action = kind === 'roles' ? 'role.removed' : 'group.removed';
                await withDatabaseErrors(db.location, () =>
                  trail.write(
                    db.knex,
                    result.removed.map((name) => ({
                      at,
                      importId: null,
                      row: null,
                      username: null,
                      action,
                      changes: { name },
                      actor,
                    })),
                  ),
                );
              }
              if (args.json) return context.out.json(result);
              for (const name of result.removed)
                await context.out.write(`removed ${SINGULAR[kind]} "${printable(name)}"\n`);
              for (const name of result.missing)
                await context.out.write(`no ${SINGULAR[kind]} "${printable(name)}" (nothing to remove)\n`);
            }),
        )
        .demandCommand(1, `Name a ${kind} command: add, list or remove.`),
    );
}

/**
 * A configured name (catalog.roles / catalog.groups) would come back at the next command that
 * writes (app/configured-catalog.ts): removing it is refused, nothing removed, until the config
 * no longer lists it.
 */
function refuseConfigured(kind: 'roles' | 'groups', names: readonly string[], configured: readonly string[]): void {
  const keys = new Set(configured.map((name) => catalogKey(cleanCatalogName(name))));
  const listed = names.filter((name) => keys.has(catalogKey(cleanCatalogName(name))));
  if (listed.length === 0) return;
  const quoted = listed.map((name) => `"${printable(name)}"`).join(', ');
  const [is, it] = listed.length === 1 ? ['is', 'it'] : ['are', 'them'];
  throw fail('CATALOG_CONFIGURED', {
    message: `Nothing was removed: ${quoted} ${is} in catalog.${kind} of the configuration, which creates ${it} again whenever usersync writes to the database.`,
  });
}

const departmentsCommand: CommandModule = (cli, run) =>
  cli.command('departments', 'List departments (imports create them)', (y) =>
    y
      .command(
        'list',
        'List departments with the number of users in each',
        (c) => c.option('json', { type: 'boolean', default: false }),
        (args) => run(args, { readOnly: true }, (context) => printList(context, 'departments', Boolean(args.json))),
      )
      .demandCommand(1, 'Name a departments command: list.'),
  );

export const catalogCommands: readonly CommandModule[] = [
  membershipCommand('roles'),
  membershipCommand('groups'),
  departmentsCommand,
];
