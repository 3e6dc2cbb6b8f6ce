/**
 * Starts reading the first file of `usersync import` before the rest of usersync loads and the
 * database opens: the reader's worker needs its own start-up (its modules, the zip's directory,
 * the workbook's shared strings) before the first row, time the main thread otherwise spends idle
 * after its own start-up.
 *
 * main.ts calls {@link readAheadFromArgv} before it loads the CLI (yargs, the command modules),
 * from a quick look at argv; the import command then {@link takeReadAhead}s it, which hands the
 * reader over only when yargs' own parse names the same file and config, and closes it otherwise.
 * Only a plausible file is read ahead: for anything else (bad config, missing, empty or too large
 * file) it resolves to undefined and processFile opens, meets and reports the problem itself.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/index.js';
import { openSpreadsheet, type SpreadsheetReader } from '../pipeline/read/index.js';
import { VALUED_GLOBALS } from './valued-options.js';

interface ReadAhead {
  /** Absolute path of the file being read. */
  file: string;
  configFile: string | undefined;
  reader: Promise<SpreadsheetReader | undefined>;
}

let pending: ReadAhead | undefined;

/** Global options that take a value, and the import command's own. */
const VALUED_OPTIONS: ReadonlySet<string> = new Set([...VALUED_GLOBALS, '--report-dir']);

/**
 * `usersync [globals] import [options] FILE …`: starts reading FILE. Anything this quick look
 * cannot read with certainty (`--`, an option it does not know) reads nothing ahead: yargs
 * decides, and the import command opens the file itself as before.
 */
export function readAheadFromArgv(argv: readonly string[]): void {
  const positionals: string[] = [];
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) positionals.push(arg);
    else if (VALUED_OPTIONS.has(arg)) {
      if (arg === '--config') configFile = argv[i + 1];
      i++;
    } else if (VALUED_OPTIONS.has(arg.slice(0, Math.max(0, arg.indexOf('='))))) {
      if (arg.startsWith('--config=')) configFile = arg.slice('--config='.length);
    } else if (!/^--(?:no-)?(?:dry-run|json)$/.test(arg)) return;
  }
  if (positionals[0] !== 'import' || positionals[1] === undefined) return;
  const file = path.resolve(positionals[1]);
  pending = { file, configFile, reader: readAhead(configFile, file) };
}

/**
 * The reader started for `file` under `configFile`, if it is the one read ahead (by main.ts, or
 * now); one started for anything else is closed.
 */
export function takeReadAhead(
  file: string | undefined,
  configFile: string | undefined,
): Promise<SpreadsheetReader | undefined> | undefined {
  const ahead = pending;
  pending = undefined;
  if (ahead && file !== undefined && ahead.file === path.resolve(file) && ahead.configFile === configFile)
    return ahead.reader;
  if (ahead) close(ahead.reader);
  return file === undefined ? undefined : readAhead(configFile, path.resolve(file));
}

/** Closes a reader read ahead but never taken (usage error, --help): its worker would keep the process alive. */
export function releaseReadAhead(): void {
  if (pending) close(pending.reader);
  pending = undefined;
}

/** Closes a reader taken but never used (the import ended before its first file); none: nothing to do. */
export function discardReadAhead(reader: Promise<SpreadsheetReader | undefined> | undefined): void {
  if (reader) close(reader);
}

function readAhead(configFile: string | undefined, file: string): Promise<SpreadsheetReader | undefined> {
  const reader = (async () => {
    let settings;
    try {
      settings = loadConfig({ configFile }).import;
      // lstat: a symbolic link is never read ahead (the import command refuses it without --follow-symlinks).
      const info = await lstat(file);
      if (!info.isFile() || info.size === 0 || info.size > settings.maxFileBytes) return undefined;
    } catch {
      return undefined;
    }
    return openSpreadsheet(file, settings);
  })();
  reader.catch(() => undefined); // observed by processFile; not an unhandled rejection meanwhile
  return reader;
}

function close(reader: Promise<SpreadsheetReader | undefined>): void {
  void reader.then(
    (opened) => opened?.close(),
    () => undefined,
  );
}
