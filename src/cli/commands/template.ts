/** `usersync template [--out F]`: writes the import template (import_users.xlsx). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { listCatalog } from '../../db/repositories/catalog.js';
import { UsersyncError, fail } from '../../errors.js';
import { writeTemplate } from '../../pipeline/template.js';
import type { CommandModule } from '../command-module.js';

export const templateCommand: CommandModule = (cli, run) =>
  cli.command(
    'template',
    'Write the import template: the ten columns, Yes/No drop-downs and an Instructions sheet',
    (y) =>
      y
        .option('out', { type: 'string', default: 'import_users.xlsx', describe: 'Where to write it' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace the file if it exists' }),
    (args) =>
      run(args, { readOnly: true }, async ({ config, database, logger, out }) => {
        const target = path.resolve(String(args.out));
        if (existsSync(target) && !args.force) {
          throw fail('OUTPUT_EXISTS', {
            message: `${target} already exists; use --force to replace it or --out to write another file.`,
          });
        }
        // The Instructions sheet lists the roles and groups that exist; without a database it
        // falls back to the configured catalogue rather than failing. It only reads the database:
        // run in a fresh folder, it creates none (a new install's first step is this command).
        let roles: string[] = [...config.catalog.roles];
        let groups: string[] = [...config.catalog.groups];
        try {
          const db = await database();
          roles = (await listCatalog(db.knex, 'roles')).map((r) => r.name);
          groups = (await listCatalog(db.knex, 'groups')).map((g) => g.name);
        } catch (error) {
          const missing = error instanceof UsersyncError && error.code === 'DB_NOT_FOUND';
          logger.log(missing ? 'info' : 'warn', 'template.catalog_unavailable', {
            reason: (error as Error).message,
            listed: 'the configured catalog.roles and catalog.groups',
          });
        }
        const { passwordMinLength, maxRows, clearMarker } = config.import;
        await writeTemplate(target, { roles, groups, passwordMinLength, maxRows, clearMarker });
        await out.write(`wrote ${target}\n`);
      }),
  );
