/**
 * The yargs root: global flags, the command list, and the ONE place errors become exit codes
 * (SPEC §3: 0 all rows applied, 1 some rows failed, 2 rejected or bad usage/config, 3 operational).
 *
 * yargs would print usage and exit 1 for any error, including runtime errors thrown by a handler
 * (PITFALLS §8): `exitProcess(false)` plus a `fail` handler that throws lets us decide here.
 */
import yargs, { type Argv } from 'yargs';
import { EXIT, UsersyncError, describeError, exitCodeFor, fail } from '../errors.js';
import { withContext, type CommandContext, type ContextOptions, type GlobalArgs } from './context.js';
import { auditCommand } from './commands/audit.js';
import { catalogCommands } from './commands/catalog.js';
import { importCommand } from './commands/import.js';
import { importsCommand } from './commands/imports.js';
import { templateCommand } from './commands/template.js';

import { migrateCommand } from './commands/migrate.js';
import { startCommand } from './commands/start.js';
import { usersCommand } from './commands/users.js';

/** Runs a command body in a fresh context; the exit code it sets becomes the process's. */
export type Runner = (args: Record<string, unknown>, options: ContextOptions, body: (context: CommandContext) => Promise<void>) => Promise<void>;
export type CommandModule = (cli: Argv, run: Runner) => Argv;

const COMMANDS: readonly CommandModule[] = [startCommand, importCommand, templateCommand, migrateCommand, ...catalogCommands, usersCommand, importsCommand, auditCommand];

/** Parses argv, runs the command, and returns the process exit code. Never throws. */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  let cli: Argv = yargs([...argv])
    .scriptName('usersync')
    .usage('$0 <command> [options]')
    .option('config', { type: 'string', describe: 'JSON file layered over config/default.json and config/local.json', global: true })
    .option('log-level', { choices: ['error', 'warn', 'info', 'debug'] as const, describe: 'Least severe log level shown and written', global: true })
    .strict()
    .demandCommand(1, 'Name a command.')
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
      throw fail('USAGE_INVALID', { message });
    }) as unknown as Argv;
  const run: Runner = async (args, options, body) => {
    const globals: GlobalArgs = {
      config: typeof args.config === 'string' ? args.config : undefined,
      logLevel: args.logLevel as GlobalArgs['logLevel'],
    };
    exitCode = await withContext(globals, options, body);
  };
  for (const register of COMMANDS) cli = register(cli, run);
  try {
    await cli.parseAsync();
    return exitCode;
  } catch (error) {
    reportError(error);
    if (error instanceof UsersyncError && error.code === 'USAGE_INVALID') process.stderr.write('Run `usersync --help` for the list of commands and options.\n');
    return exitCodeFor(error);
  }
}

function reportError(error: unknown): void {
  if (error instanceof UsersyncError) {
    process.stderr.write(`usersync: ${error.message}\n`);
    if (error.code !== 'USAGE_INVALID') process.stderr.write(`  what to do: ${error.help}\n  (code ${error.code})\n`);
    return;
  }
  // A bug: say so, with enough to report it, but nothing from the error's own properties (SQL, values).
  const described = describeError(error);
  process.stderr.write(`usersync: unexpected error: ${String(described.message)}\n`);
  if (error instanceof Error && error.stack) process.stderr.write(`${error.stack.split('\n').slice(1, 6).join('\n')}\n`);
}
