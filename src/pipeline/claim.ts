/**
 * Claiming inbox files, and moving files between the daemon's folders without ever overwriting or
 * dropping one (PITFALLS §2.10): `rename` silently replaces an existing target, so a target name
 * outside the daemon's own processing/ is created with `link` (which refuses to replace); across
 * filesystems (EXDEV) the file is copied exclusively, fsynced, and only then is the source unlinked.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  chmod,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { fail, type UsersyncError } from '../errors.js';
import { refusalOf, type Refusal } from './file-kind.js';

/** Moves `from` to exactly `to`; fails if `to` exists. */
export async function moveExclusive(from: string, to: string): Promise<void> {
  try {
    await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
    try {
      await link(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      // Another filesystem, or one without hard links: copy, flush to disk, then remove.
      await copyFile(from, to, constants.COPYFILE_EXCL);
      const handle = await open(to, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    // Owner-only: user lists carry personal data, whatever mode HR's copy had.
    await chmod(to, 0o600);
    await unlink(from);
  } catch (cause) {
    throw fail('FS_MOVE_FAILED', {
      message: `Cannot move ${path.basename(from)} to ${path.dirname(to)}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}.`,
      cause,
      details: { from, to },
    });
  }
}

/**
 * `users.2024-01.xlsx` → `users.2024-01`: the stem report names are built from. A report dropped
 * back in (`users.report.xlsx`, `users.report (2).xlsx`) gives `users.retry`: its reports are then
 * `users.retry.report.xlsx`, neither `users.report.report.xlsx` nor the report's own name.
 */
export const stemOf = (name: string): string =>
  (path.basename(name).replace(/\.(xlsx|xlsm|csv)$/i, '') || 'import').replace(/\.report(?: \(\d+\))?$/i, '.retry');

/** A claim id: sortable by time, unique, safe in a file name. */
export function newClaimId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

const SEPARATOR = '__';

/** The name a claimed file has in processing/: `<claimId>__<original name>`. */
export const claimedName = (claimId: string, originalName: string): string => `${claimId}${SEPARATOR}${originalName}`;

/** The original name back from a processing/ name, or undefined for anything else. */
export function parseClaimedName(name: string): { claimId: string; originalName: string } | undefined {
  const at = name.indexOf(SEPARATOR);
  if (at <= 0) return undefined;
  return { claimId: name.slice(0, at), originalName: name.slice(at + SEPARATOR.length) };
}

export interface ClaimedFile {
  path: string;
  claimId: string;
  originalName: string;
}

export type ClaimOutcome = { claimed: ClaimedFile } | { refused: Refusal } | { gone: true };

/**
 * Claims an inbox file: renamed into processing/ under its claim name — only when it is a regular
 * file with one name (file-kind.ts), checked with `lstat` now, not when the watcher saw it.
 *
 * The rename moves whatever the name is at that instant, so the entry is checked again once it is
 * in processing/: a name swapped for a link in between is put back in the inbox, unread, and
 * refused. Across filesystems the file is opened with O_NOFOLLOW | O_NONBLOCK (a link fails, a
 * FIFO does not block), checked with fstat and copied from that descriptor, never by name.
 * A target name in processing/ is unique (the claim id), and processing/ is the daemon's own
 * folder, so the rename cannot replace anything.
 */
export async function claimFile(inboxPath: string, processingDir: string, now: Date): Promise<ClaimOutcome> {
  const originalName = path.basename(inboxPath);
  const before = await lstat(inboxPath).catch(() => undefined);
  if (!before) return { gone: true };
  const refused = await refusalOf(inboxPath, before);
  if (refused) return { refused };
  const claimId = newClaimId(now);
  const target = path.join(processingDir, claimedName(claimId, originalName));
  try {
    await mkdir(processingDir, { recursive: true, mode: 0o700 });
    await rename(inboxPath, target);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && (await exists(processingDir))) return { gone: true };
    if (code !== 'EXDEV') throw await moveFailed(inboxPath, target, cause);
    const copied = await copyClaim(inboxPath, target);
    if (copied !== 'copied') return copied;
  }
  const after = await lstat(target);
  const swapped = await refusalOf(target, after);
  if (swapped) {
    const back = await returnToInbox(target, inboxPath);
    return { refused: { ...swapped, path: back } };
  }
  await chmod(target, 0o600); // owner-only: user lists carry personal data, whatever mode HR's copy had
  return { claimed: { path: target, claimId, originalName } };
}

/** Puts an entry that must not be read back where it came from (a free name beside it if that one was taken). */
export async function returnToInbox(from: string, inboxPath: string): Promise<string> {
  const ext = path.extname(inboxPath);
  const base = inboxPath.slice(0, inboxPath.length - ext.length);
  for (let n = 1; n < 100; n++) {
    const to = n === 1 ? inboxPath : `${base} (${n})${ext}`;
    try {
      await link(from, to); // link(2) does not follow a symbolic link: the link itself goes back
      await unlink(from);
      return to;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw fail('FS_MOVE_FAILED', {
          message: `Cannot put ${path.basename(from)} back into ${path.dirname(inboxPath)}: ${code}.`,
          cause: error,
        });
      }
    }
  }
  throw fail('FS_MOVE_FAILED', {
    message: `Too many entries named like ${path.basename(inboxPath)} in ${path.dirname(inboxPath)}.`,
  });
}

/** The refusal for an entry found in processing/ (a claim interrupted by a crash), if it is not a regular file with one name. */
export async function checkClaimed(claimedPath: string): Promise<Refusal | undefined> {
  return refusalOf(claimedPath, await lstat(claimedPath));
}

/** The EXDEV claim: copy from a checked descriptor, flush, then remove the inbox name if it still is that file. */
async function copyClaim(inboxPath: string, target: string): Promise<'copied' | { refused: Refusal } | { gone: true }> {
  let source;
  try {
    source = await open(
      inboxPath,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { gone: true };
    if (code === 'ELOOP') {
      // Swapped for a link since the lstat above: refuse what is there now.
      const now = await lstat(inboxPath).catch(() => undefined);
      const refused = now && (await refusalOf(inboxPath, now));
      return refused ? { refused } : { gone: true };
    }
    throw await moveFailed(inboxPath, target, cause);
  }
  try {
    const stats = await source.stat();
    const refused = await refusalOf(inboxPath, stats);
    if (refused) return { refused };
    try {
      await writeFile(target, source.createReadStream({ autoClose: false, start: 0 }), { flag: 'wx', mode: 0o600 });
      const copy = await open(target, 'r');
      try {
        await copy.sync();
      } finally {
        await copy.close();
      }
    } catch (cause) {
      await rm(target, { force: true });
      throw await moveFailed(inboxPath, target, cause);
    }
    // Only the name that still is the copied file is removed (it may have been replaced meanwhile).
    const now = await lstat(inboxPath).catch(() => undefined);
    if (!now || now.ino !== stats.ino || now.dev !== stats.dev) {
      await rm(target, { force: true });
      return { gone: true };
    }
    try {
      await unlink(inboxPath);
    } catch (cause) {
      await rm(target, { force: true });
      const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
      throw fail('FS_MOVE_FAILED', {
        message:
          `Copied ${path.basename(inboxPath)} into ${path.dirname(target)} but cannot remove it from the inbox ` +
          `${path.dirname(inboxPath)} (${code}): the daemon's account must be able to write the inbox folder.`,
        cause,
        details: { from: inboxPath, to: target },
      });
    }
    return 'copied';
  } finally {
    await source.close();
  }
}

/** FS_MOVE_FAILED naming the folder that refused: the inbox (the name cannot be removed from it) or processing/. */
async function moveFailed(from: string, to: string, cause: unknown): Promise<UsersyncError> {
  const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
  const writable = (dir: string) =>
    access(dir, constants.W_OK | constants.X_OK).then(
      () => true,
      () => false,
    );
  const [name, inbox, processing] = [path.basename(from), path.dirname(from), path.dirname(to)];
  const refusedBy = "the daemon's account may not write that folder";
  let message = `Cannot move ${name} from ${inbox} into ${processing} (${code}).`;
  if (!(await exists(processing)))
    message = `Cannot move ${name} into ${processing}: that folder does not exist (${code}).`;
  else if (!(await writable(inbox))) message = `Cannot take ${name} out of the inbox ${inbox} (${code}): ${refusedBy}.`;
  else if (!(await writable(processing))) message = `Cannot move ${name} into ${processing} (${code}): ${refusedBy}.`;
  return fail('FS_MOVE_FAILED', { message, cause, details: { from, to } });
}

const exists = (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

/** Claimed files left in processing/ (by a crash or a stop), oldest claim first. Reports are not listed. */
export async function listClaimed(
  processingDir: string,
): Promise<Array<{ path: string; claimId: string; originalName: string }>> {
  const names = await readdir(processingDir).catch(() => [] as string[]);
  return names
    .filter((name) => !/\.report(\s\(\d+\))?\.(json|xlsx)$/.test(name) && !name.endsWith('.tmp'))
    .map((name) => ({ name, parsed: parseClaimedName(name) }))
    .filter(
      (entry): entry is { name: string; parsed: { claimId: string; originalName: string } } =>
        entry.parsed !== undefined,
    )
    .sort((a, b) => a.parsed.claimId.localeCompare(b.parsed.claimId))
    .map(({ name, parsed }) => ({ path: path.join(processingDir, name), ...parsed }));
}
