/**
 * Moving files between the daemon's folders without ever overwriting or dropping one
 * (PITFALLS §2.10): `rename` silently replaces an existing target, so the target name is made
 * unique and created with `link` (which refuses to replace); across filesystems (EXDEV) the file is
 * copied with COPYFILE_EXCL, fsynced, and only then is the source unlinked.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../errors.js';

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
    throw fail('FS_MOVE_FAILED', { message: `Cannot move ${path.basename(from)} to ${path.dirname(to)}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}.`, cause, details: { from, to } });
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
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
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

/** Claims an inbox file: renamed into processing/ under its claim name. */
export async function claimFile(inboxPath: string, processingDir: string, now: Date): Promise<{ path: string; claimId: string; originalName: string }> {
  const originalName = path.basename(inboxPath);
  const claimId = newClaimId(now);
  const target = path.join(processingDir, claimedName(claimId, originalName));
  await moveExclusive(inboxPath, target);
  return { path: target, claimId, originalName };
}

/** Claimed files left in processing/ (by a crash or a stop), oldest claim first. Reports are not listed. */
export async function listClaimed(processingDir: string): Promise<Array<{ path: string; claimId: string; originalName: string }>> {
  const names = await readdir(processingDir).catch(() => [] as string[]);
  return names
    .filter((name) => !/\.report(\s\(\d+\))?\.(json|xlsx)$/.test(name) && !name.endsWith('.tmp'))
    .map((name) => ({ name, parsed: parseClaimedName(name) }))
    .filter((entry): entry is { name: string; parsed: { claimId: string; originalName: string } } => entry.parsed !== undefined)
    .sort((a, b) => a.parsed.claimId.localeCompare(b.parsed.claimId))
    .map(({ name, parsed }) => ({ path: path.join(processingDir, name), ...parsed }));
}
