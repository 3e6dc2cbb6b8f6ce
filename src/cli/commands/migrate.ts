/** `usersync migrate`: applies pending database migrations (the daemon also does at start). */
import { withDatabaseErrors } from '../../db/errors.js';
import { createDatabase } from '../../db/knex.js';
import { migrateToLatest } from '../../db/migrate.js';
import type { CommandModule } from '../command-module.js';

export const migrateCommand: CommandModule = (cli, run) =>
  cli.command(
    'migrate',
    'Apply database migrations (a no-op when the schema is current)',
    (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' }),
    (args) =>
      run(args, {}, async ({ config, logger, out }) => {
        const db = createDatabase(config, logger);
        try {
          const { applied } = await withDatabaseErrors(db.location, () => migrateToLatest(db));
          logger.info('db.migrated', { applied, database: db.description, fileOnly: true });
          if (args.json) await out.json({ database: db.description, applied });
          else
            await out.write(
              applied.length
                ? `Applied ${applied.length} migration(s) to ${db.description}: ${applied.join(', ')}\n`
                : `${db.description} is up to date.\n`,
            );
        } finally {
          await db.destroy();
        }
      }),
  );
