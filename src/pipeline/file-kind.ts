/**
 * What an inbox entry is, from its own `lstat` (never its target's): the daemon takes only
 * regular files that are really in the inbox. A symbolic link (to anything), a file with other
 * names (`st_nlink > 1`: a hard link can make another account's file appear in the inbox), a
 * FIFO (opening one blocks), a device or a socket is refused: never opened, read, moved or imported.
 */
import type { BigIntStats, Stats } from 'node:fs';
import { readlink } from 'node:fs/promises';

export type RefusedKind = 'symlink' | 'hardlink' | 'fifo' | 'socket' | 'device' | 'directory';

export interface Refusal {
  path: string;
  kind: RefusedKind;
  /** In words, for the log and /healthz: "a symbolic link to /etc/passwd". */
  what: string;
  /** The entry's own inode: a refusal is warned about once per path, kind and inode. */
  ino: string;
}

/** The kind that makes an entry unacceptable, or undefined for a regular file with one name. */
export function refusedKind(stats: Stats | BigIntStats): RefusedKind | undefined {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  if (stats.isDirectory()) return 'directory';
  if (!stats.isFile()) return 'device'; // no other kind exists on Linux; refuse whatever it is
  if (Number(stats.nlink) > 1) return 'hardlink';
  return undefined;
}

/** The refusal for an entry whose `lstat` is `stats`, or undefined when it may be taken. */
export async function refusalOf(filePath: string, stats: Stats | BigIntStats): Promise<Refusal | undefined> {
  const kind = refusedKind(stats);
  if (kind === undefined) return undefined;
  let what: string;
  switch (kind) {
    case 'symlink': {
      const target = await readlink(filePath).catch(() => undefined);
      what = target === undefined ? 'a symbolic link' : `a symbolic link to ${target}`;
      break;
    }
    case 'hardlink':
      what = `a hard link (the file has ${stats.nlink} names)`;
      break;
    case 'fifo':
      what = 'a FIFO (named pipe)';
      break;
    case 'socket':
      what = 'a socket';
      break;
    case 'device':
      what = 'a device';
      break;
    case 'directory':
      what = 'a directory';
      break;
  }
  return { path: filePath, kind, what, ino: String(stats.ino) };
}
