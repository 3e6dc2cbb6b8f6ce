/**
 * The winston root logger and the audit log (STYLE.md "Logging").
 *
 * - `usersync.log` in logs.dir: JSON lines, one per event, `errors({stack:true})` on the logger
 *   itself (winston#1338) so `logger.error(err)` keeps message and stack.
 * - The terminal (stderr, so `--json` stdout stays clean): readable lines on a TTY, JSON otherwise.
 * - `audit.log` is written by audit-log.ts (JSON lines of audit events only).
 * Call shape: `log.info('import.finished', { rows, ms })`; errors as `{ err: describeError(e) }`.
 * Both must be flushed with `closeLogger` before the process ends (PITFALLS §7.1).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type * as Winston from 'winston';
import { requirePackage } from '../require-package.js';
import type { Config } from '../config/schema.js';
import { LOG_FILE_MODE, appendableLogFile } from './log-file.js';

const winston: typeof Winston = requirePackage('winston');

export type Logger = Winston.Logger;
export type LogLevel = Config['logs']['level'];

export interface LoggerOptions {
  /** Least severe level shown on the terminal; defaults to logs.level. */
  consoleLevel?: LogLevel;
  /** Write to files in logs.dir (off for tests that only want the terminal). */
  files?: boolean;
}

const { combine, timestamp, errors, json, printf, colorize } = winston.format;

/** The files each logger writes, closed by closeLogger once the logger has flushed. */
const files = new WeakMap<Logger, WriteStream[]>();

/**
 * A log file as a plain append stream behind winston's Stream transport. winston's own File
 * transport, ended while it waits for 'drain' (a burst of a few thousand audit lines does it),
 * writes after end and crashes the process (NodeError: write after end); a stream we own is
 * ended by us, after winston is done with it.
 */
function fileTransport(file: string): { transport: Winston.transport; stream: WriteStream } {
  const stream = createWriteStream(file, { flags: 'a', mode: LOG_FILE_MODE });
  return { transport: new winston.transports.Stream({ stream }), stream };
}

/**
 * Whoever read stderr went away (a closed pipe, a supervisor restarted): the console transport is
 * dropped and the log file goes on. Unhandled, the EPIPE was an uncaught exception whose own log
 * line failed the same way, hundreds of thousands of times, and the daemon never finished stopping.
 */
const consoles = new Map<Winston.Logger, Winston.transport>();
let listening = false;

function dropConsoleWhenGone(logger: Winston.Logger, console: Winston.transport): void {
  consoles.set(logger, console);
  if (listening) return;
  listening = true; // one listener for every logger of the process
  process.stderr.on('error', () => {
    for (const [owner, transport] of consoles) if (owner.transports.includes(transport)) owner.remove(transport);
    consoles.clear();
  });
}

export function createLogger(settings: Config['logs'], options: LoggerOptions = {}): Logger {
  const transports: Winston.transport[] = [];
  const streams: WriteStream[] = [];
  if (options.files !== false) {
    const { transport, stream } = fileTransport(appendableLogFile(settings.dir, 'usersync.log'));
    transports.push(transport);
    streams.push(stream);
  }
  const consoleMode = settings.console === 'auto' ? (process.stderr.isTTY ? 'pretty' : 'json') : settings.console;
  let console: Winston.transport | undefined;
  if (consoleMode !== 'off') {
    console = new winston.transports.Console({
      level: options.consoleLevel ?? settings.level,
      stderrLevels: ['error', 'warn', 'info', 'debug'],
      format: combine(skipFileOnly(), consoleMode === 'pretty' ? combine(colorize(), printf(pretty)) : json()),
    });
    transports.push(console);
  }
  const logger = winston.createLogger({
    level: settings.level,
    format: combine(timestamp(), errors({ stack: true }), json()),
    transports,
  });
  if (console) dropConsoleWhenGone(logger, console);
  files.set(logger, streams);
  return logger;
}

/** Entries logged with `{ fileOnly: true }` (already shown to the user another way) skip the terminal. */
const skipFileOnly = winston.format((info) => (info.fileOnly ? false : info));

/** `14:15:13 info  import.finished file=users.xlsx rows=120` */
function pretty(info: Winston.Logform.TransformableInfo): string {
  const { level, message, timestamp: at, stack, ...fields } = info;
  const time = typeof at === 'string' ? at.slice(11, 19) : '';
  const rest = Object.entries(fields)
    .filter(([key]) => typeof key === 'string')
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${level} ${String(message)}${rest ? ` ${rest}` : ''}${stack ? `\n${String(stack)}` : ''}`;
}

/** Flushes and closes a logger; resolves when every line is written to its files. */
export async function closeLogger(logger: Logger): Promise<void> {
  consoles.delete(logger);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000); // never hang an exit on a stuck transport
    logger.on('finish', () => {
      clearTimeout(timer);
      resolve();
    });
    logger.end();
  });
  await Promise.all(
    (files.get(logger) ?? []).map(
      (stream) =>
        new Promise<void>((resolve) => {
          if (stream.closed) return resolve();
          stream.end(() => resolve());
          stream.on('error', () => resolve());
        }),
    ),
  );
}
