/**
 * Global options that take a value (`--config FILE`), so that value is not taken for the command.
 * Its own module so main.ts' quick look at argv (read-ahead.ts) knows them without loading yargs.
 */
export const VALUED_GLOBALS: ReadonlySet<string> = new Set(['--config', '--log-level']);
