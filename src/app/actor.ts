/**
 * Who made a change: the `actor` of every audit event and import record. One string, in one of
 * these forms (the README's "Audit log" lists them for operators):
 *
 *   daemon           the daemon (`usersync start`) — with feeds, `daemon:<feed>`: the feed's name after the colon
 *   user@host        a command line, run by that operating-system user on that host
 *   NAME             the name a command's `--by NAME` gave (never `daemon` or `daemon:…`)
 *
 * It is worked out once per command or import, never per row.
 */
import { hostname, userInfo } from 'node:os';
import { BUILT_IN_FEED } from '../config/schema.js';
import { forbiddenCharacter, printable, textLength } from '../domain/text-rules.js';
import { fail } from '../errors.js';

/** The daemon's actor. */
export const DAEMON_ACTOR = 'daemon';

/** The daemon's actor for a file of this feed: `daemon:<feed>` for a configured feed, plain `daemon` for the inbox. */
export function daemonActor(feed: string): string {
  return feed === BUILT_IN_FEED ? DAEMON_ACTOR : `${DAEMON_ACTOR}:${feed}`;
}

/** Longest `--by` name: it shares the 255-character column with `user@host`. */
const MAX_BY_LENGTH = 100;

let commandLine: string | undefined;

/**
 * The actor of a command line: `--by NAME` when given (checked), otherwise `user@host`. The user
 * name comes from the password database; where there is none for this uid (a container run with
 * `--user 1234`) `os.userInfo()` throws and $USER, $LOGNAME or `uid<n>` stand in.
 */
export function commandLineActor(by?: string): string {
  if (by !== undefined) return checkedBy(by);
  commandLine ??= `${osUserName()}@${hostname()}`.slice(0, 255);
  return commandLine;
}

function osUserName(): string {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // no password-database entry for this uid: fall through
  }
  return process.env.USER || process.env.LOGNAME || `uid${process.getuid?.() ?? ''}`;
}

function checkedBy(raw: string): string {
  const name = raw.trim();
  const bad = forbiddenCharacter(name);
  const problem =
    name === ''
      ? 'it is empty'
      : bad
        ? `it contains the control character ${bad}`
        : textLength(name) > MAX_BY_LENGTH
          ? `it is longer than ${MAX_BY_LENGTH} characters`
          : name === DAEMON_ACTOR || name.startsWith(`${DAEMON_ACTOR}:`)
            ? `"${DAEMON_ACTOR}" names the daemon in the audit trail`
            : undefined;
  if (problem) {
    const message = `--by "${printable(raw.slice(0, 40))}" cannot name who made the change: ${problem}. Give the person's name or account, e.g. --by j.doe.`;
    throw fail('USAGE_INVALID', { message });
  }
  return name;
}
