/**
 * Files that must stay the owner's: the database and configuration holding secrets. usersync
 * creates them owner-only; one found readable by other accounts is reported (never changed:
 * an operator may have granted a backup account read access on purpose).
 */
import { statSync } from 'node:fs';

/** Group and other read bits: with either, local accounts other than the owner can read the file. */
const READ_BY_OTHERS = 0o044;

/** The file's permission bits as `0644` when other accounts can read it; undefined otherwise or when it is absent. */
export function readableByOthers(file: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch {
    return undefined; // absent or unreadable to us: nothing other accounts can read through usersync
  }
  return (mode & READ_BY_OTHERS) === 0 ? undefined : `0${(mode & 0o777).toString(8)}`;
}
