/**
 * Finishing a claimed file (SPEC §2): the file and its two reports leave processing/ for
 * `archive/YYYY-MM-DD/` (every row applied) or `error/YYYY-MM-DD/` (rejected, or any row failed),
 * named `<importId>_<original name>`, `<importId>_<stem>.report.{xlsx,json}`. Nothing is ever
 * overwritten: an existing name gets a ` (2)` suffix. With archive.redactPasswords, a file that
 * carried passwords is archived as a rewrite with the Password column emptied (written by the
 * caller-supplied `redact`), and the original bytes are deleted only once that copy is safely written.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fail } from '../errors.js';
import { moveExclusive, stemOf } from './claim.js';

export interface FinishRequest {
  claimedPath: string;
  originalName: string;
  importId: number | null;
  /** True when every row applied. */
  success: boolean;
  /** Held for approval (SPEC §9): into folders.held itself (no dated folder), owner-only. */
  held?: boolean;
  reports: { jsonPath: string; xlsxPath: string };
  folders: { archive: string; error: string; held: string };
  now: Date;
  /**
   * Writes a redacted copy of `from` to `to`; present when the file must be redacted. Resolves
   * false when the file cannot be read back to redact it (then the original is archived: losing
   * it would be worse, and the register says the copy is not redacted).
   */
  redact?: ((from: string, to: string) => Promise<boolean>) | undefined;
}

export interface Finished {
  filePath: string;
  reportJsonPath: string;
  reportXlsxPath: string;
  /** sha256 of the archived copy when it is a redacted rewrite. */
  redactedSha256: string | null;
}

export interface PreparedFinish {
  /** Where everything will be once `publish` has run. */
  finished: Finished;
  /** Moves the file (or its redacted copy, then removes the original) and its two reports. */
  publish(): Promise<void>;
}

/** Mode of a held file and its reports: it is kept with its passwords until decided. */
export const HELD_FILE_MODE = 0o600;

/** `archive/2026-11-24` (UTC date, so folders do not depend on the host's time zone). */
export const datedFolder = (root: string, now: Date): string => path.join(root, now.toISOString().slice(0, 10));

/**
 * Everything that can be decided or written without moving the file: the dated folder, the free
 * names, the redacted copy (staged beside the claimed file). The register is closed with these
 * paths before `publish`, so whoever sees the file in archive/ or error/ finds its register final.
 * The staged copy ends in `.tmp`, which a recovery never takes for a claimed file (claim.ts).
 */
export async function prepareFinish(request: FinishRequest): Promise<PreparedFinish> {
  const folder = request.held
    ? request.folders.held
    : datedFolder(request.success ? request.folders.archive : request.folders.error, request.now);
  const prefix = request.importId === null ? 'noid' : String(request.importId);
  const stem = stemOf(request.originalName);
  await mkdir(folder, { recursive: true, mode: 0o700 }).catch((cause: unknown) => {
    const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw fail('FS_MOVE_FAILED', { message: `Cannot create ${folder}: ${code}.`, cause });
  });
  const finished: Finished = {
    filePath: await freeName(path.join(folder, `${prefix}_${request.originalName}`)),
    reportJsonPath: await freeName(path.join(folder, `${prefix}_${stem}.report.json`)),
    reportXlsxPath: await freeName(path.join(folder, `${prefix}_${stem}.report.xlsx`)),
    redactedSha256: null,
  };
  const staged = request.redact ? await stageRedacted(request.claimedPath, request.redact) : undefined;
  if (staged) finished.redactedSha256 = staged.sha256;
  return {
    finished,
    async publish() {
      if (staged) {
        await moveExclusive(staged.path, finished.filePath);
        await unlink(request.claimedPath).catch((cause: unknown) => {
          const name = path.basename(request.claimedPath);
          throw fail('FS_MOVE_FAILED', { message: `Cannot remove the unredacted ${name}.`, cause });
        });
      } else {
        await moveExclusive(request.claimedPath, finished.filePath);
      }
      await moveExclusive(request.reports.jsonPath, finished.reportJsonPath);
      await moveExclusive(request.reports.xlsxPath, finished.reportXlsxPath);
      // A held file still carries its passwords: only its owner may read it (SPEC §9).
      if (request.held)
        await Promise.all(
          [finished.filePath, finished.reportJsonPath, finished.reportXlsxPath].map((file) =>
            chmod(file, HELD_FILE_MODE),
          ),
        );
    },
  };
}

/** The redacted copy, written afresh: a copy left by a run that died before publishing is replaced. */
async function stageRedacted(
  claimedPath: string,
  redact: (from: string, to: string) => Promise<boolean>,
): Promise<{ path: string; sha256: string } | undefined> {
  const staged = `${claimedPath}.redacted.tmp`;
  await Promise.all([rm(staged, { force: true }), rm(`${staged}.tmp`, { force: true })]);
  if (!(await redact(claimedPath, staged))) return undefined;
  return { path: staged, sha256: await sha256Of(staged) };
}

/** `name.ext`, else `name (2).ext`, … — the first that does not exist. */
async function freeName(target: string): Promise<string> {
  const ext = path.extname(target);
  const base = target.slice(0, target.length - ext.length);
  for (let n = 1; n < 1000; n++) {
    const candidate = n === 1 ? target : `${base} (${n})${ext}`;
    try {
      await lstat(candidate);
    } catch {
      return candidate;
    }
  }
  const message = `Too many files named like ${path.basename(target)} in ${path.dirname(target)}.`;
  throw fail('FS_MOVE_FAILED', { message });
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
