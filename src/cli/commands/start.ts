/**
 * `usersync start`: the daemon. Boots, then waits for SIGINT/SIGTERM: the first signal stops
 * taking work, lets the current batch commit (the file stays claimed for recovery), closes
 * everything in order and exits 0; a second signal only says shutdown is under way.
 * An uncaught exception is logged and the process exits non-zero after the logs are flushed.
 */
import { boot } from '../../app/boot.js';
import { createShutdown } from '../../app/shutdown.js';
import { describeError } from '../../errors.js';
import { closeLogger } from '../../logging/logger.js';
import type { CommandModule } from '../command-module.js';

export const startCommand: CommandModule = (cli, run) =>
  cli.command('start', 'Run the daemon: watch the inbox and import each new user list', {}, (args) =>
    run(args, { consoleLevel: 'info' }, async (context) => {
      const { config, logger } = context;
      const auditLog = context.auditLog();
      const shutdown = createShutdown(logger, config.daemon.shutdownTimeoutMs);
      let exitCode = 0;
      let signalled = false;
      // Signals are handled from the start, so a daemon still waiting for its database stops cleanly.
      const stopped = new Promise<void>((resolve) => {
        const onSignal = (signal: NodeJS.Signals) => {
          if (shutdown.started()) {
            logger.warn('daemon.signal_ignored', { signal, reason: 'shutdown already under way' });
            return;
          }
          signalled = true;
          logger.info('daemon.stopping', { signal });
          void shutdown.run(signal).then((clean) => {
            if (!clean) exitCode = 1;
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        let failed = false;
        const fatal = (error: unknown) => {
          logger.error('daemon.uncaught', { err: describeError(error) });
          if (failed) return; // one shutdown: a fault while stopping is logged, not started again
          failed = true;
          void shutdown
            .run('uncaught exception')
            .finally(() => Promise.all([auditLog.close(), closeLogger(logger)]))
            .finally(() => process.exit(70));
        };
        process.on('uncaughtException', fatal);
        process.on('unhandledRejection', fatal);
      });
      try {
        await boot(config, logger, auditLog, shutdown);
      } catch (error) {
        // Stopped by a signal while booting is a clean stop; anything else is a failed boot.
        if (!signalled) throw error;
      }
      await stopped;
      logger.info('daemon.stopped', { exitCode });
      context.exitCode = exitCode;
      // Anything still holding the event loop (a stuck socket) must not keep a stopped daemon alive.
      setTimeout(() => process.exit(context.exitCode), 10_000).unref();
    }),
  );
