/**
 * The yargs root: global flags, the command list, and the ONE place errors become exit codes
 * (SPEC §3: 0 all rows applied, 1 some rows failed, 2 rejected or bad usage/config, 3 operational).
 *
 * yargs would print usage and exit 1 for any error, including runtime errors thrown by a handler
 * (PITFALLS §8): `exitProcess(false)` plus a `fail` handler that throws lets us decide here.
 */
import yargs, { type Argv } from 'yargs';
import { EXIT, UsersyncError, describeError, exitCodeFor, fail } from '../errors.js';
import type { CommandModule, Runner } from './command-module.js';
import type { GlobalArgs } from './context.js';
import { VALUED_GLOBALS } from './valued-options.js';

/**
 * Each command's module, loaded only when the command line names it: the modules pull in the
 * daemon, the drivers, exceljs' writer and more, ~0.5 s of loading that delayed the start of an
 * import's reader (and `--version`, which now loads none). Help, or a name that is not here, loads
 * them all.
 */
const catalog = async () => (await import('./commands/catalog.js')).catalogCommands;
const COMMANDS: Readonly<Record<string, () => Promise<readonly CommandModule[]>>> = {
  start: async () => [(await import('./commands/start.js')).startCommand],
  import: async () => [(await import('./commands/import.js')).importCommand],
  template: async () => [(await import('./commands/template.js')).templateCommand],
  migrate: async () => [(await import('./commands/migrate.js')).migrateCommand],
  roles: catalog,
  groups: catalog,
  departments: catalog,
  users: async () => [(await import('./commands/users.js')).usersCommand],
  imports: async () => [(await import('./commands/imports.js')).importsCommand],
  holds: async () => [(await import('./commands/holds.js')).holdsCommand],
  audit: async () => [(await import('./commands/audit.js')).auditCommand],
  notify: async () => [(await import('./commands/notify.js')).notifyCommand],
  targets: async () => [(await import('./commands/targets.js')).targetsCommand],
};

/** The modules of the command named on the command line, or of every command. */
async function commandModules(argv: readonly string[]): Promise<CommandModule[]> {
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (VALUED_GLOBALS.has(arg)) i++;
    else if (!arg.startsWith('-')) {
      name = arg;
      break;
    }
  }
  if (name === undefined && argv.includes('--version') && !argv.some((arg) => arg === '--help' || arg === '-h'))
    return [];
  const loaders =
    name !== undefined && Object.hasOwn(COMMANDS, name) ? [COMMANDS[name]!] : [...new Set(Object.values(COMMANDS))];
  return (await Promise.all(loaders.map((load) => load()))).flat();
}

/** Parses argv, runs the command, and returns the process exit code. Never throws. */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  let cli: Argv = yargs([...argv])
    .scriptName('usersync')
    .usage('$0 <command> [options]')
    .option('config', {
      type: 'string',
      describe: 'JSON file layered over config/default.json and config/local.json',
      global: true,
    })
    .option('log-level', {
      choices: ['error', 'warn', 'info', 'debug'] as const,
      describe: 'Least severe log level shown and written',
      global: true,
    })
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
    const { withContext } = await import('./context.js');
    exitCode = await withContext(globals, options, body);
  };
  for (const register of await commandModules(argv)) cli = register(cli, run);
  try {
    await cli.parseAsync();
    return exitCode;
  } catch (error) {
    reportError(error);
    if (error instanceof UsersyncError && error.code === 'USAGE_INVALID')
      process.stderr.write('Run `usersync --help` for the list of commands and options.\n');
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
  if (error instanceof Error && error.stack)
    process.stderr.write(`${error.stack.split('\n').slice(1, 6).join('\n')}\n`);
}
