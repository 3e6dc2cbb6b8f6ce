/**
 * `usersync start`: the daemon. Not part of this build yet (issue "The daemon"): it says so and
 * exits 3 rather than pretending to watch anything.
 */
import { fail } from '../../errors.js';
import type { CommandModule } from '../root.js';

export const startCommand: CommandModule = (cli, run) =>
  cli.command('start', 'Run the daemon: watch the inbox and import each new user list', {}, (args) =>
    run(args, { consoleLevel: 'info' }, async () => {
      throw fail('DAEMON_NOT_AVAILABLE');
    }),
  );
