/**
 * Applying an approved hold from `usersync holds approve` (SPEC §9). Whoever holds the folders'
 * lock applies it: when a daemon runs, the command waits for the daemon to pick the approval up
 * (it polls every few seconds: app/daemon.ts) and reports what became of it; when none runs, the
 * command takes the lock — so a daemon starting meanwhile cannot apply the same file — and applies
 * the file itself, through the daemon's own steps.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { withDatabaseErrors } from '../db/errors.js';
import type { Database } from '../db/knex.js';
import { getImport, type ImportRecord } from '../db/repositories/imports.js';
import type { Hold } from '../db/repositories/holds.js';
import { UsersyncError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { AuditTrail } from '../pipeline/audit.js';
import { exitCodeOf } from '../pipeline/import-steps.js';
import { createPasswordHasher } from '../pipeline/passwords.js';
import { processFile } from '../pipeline/process-file.js';
import { commandLineActor } from './actor.js';
import { claimedRequest, claimSteps } from './claim-steps.js';
import { approvedClaim, retireHeldReports } from './holds.js';
import { acquireFolderLock } from './lock.js';

export interface ApplyHoldDeps {
  config: Readonly<Config>;
  db: Database;
  audit: AuditTrail;
  logger: Logger;
}

/** How often the command looks for the daemon's import of the hold. */
const POLL_MS = 250;

export async function applyApprovedHold(
  deps: ApplyHoldDeps,
  hold: Hold,
  say: (line: string) => Promise<void>,
): Promise<{ exitCode: number }> {
  const lock = await acquireFolderLock(deps.config.folders.processing).catch((error: unknown) => {
    if (error instanceof UsersyncError && error.code === 'DAEMON_ALREADY_RUNNING') return undefined;
    throw error;
  });
  if (!lock) return waitForDaemon(deps, hold, say);
  try {
    await say(`Approved import ${hold.id} (${hold.originalName}); no daemon runs, so it is applied now.\n`);
    const claimed = await approvedClaim(deps.db, hold);
    const claim = claimSteps(claimed, {
      config: deps.config,
      db: deps.db,
      signal: new AbortController().signal,
      onWaiting: () => undefined,
    });
    const pipeline = { ...deps, hasher: createPasswordHasher(deps.config.import) };
    const result = await processFile(pipeline, {
      ...claimedRequest(claimed, deps.config),
      actor: commandLineActor(),
      claim,
    });
    const { importId, outcome } = result.summary;
    await retireHeldReports(deps, hold.id, { outcome, filePath: result.filePath });
    await say(resultLine({ id: importId ?? 0, status: outcome, filePath: result.filePath }));
    return { exitCode: result.exitCode };
  } finally {
    await lock.release();
  }
}

/**
 * The daemon applies the approval within watch.stableMs + 5 s of it: wait that long for its import
 * to begin, then for it to end.
 */
async function waitForDaemon(
  deps: ApplyHoldDeps,
  hold: Hold,
  say: (line: string) => Promise<void>,
): Promise<{ exitCode: number }> {
  await say(`Approved import ${hold.id} (${hold.originalName}); the running daemon applies it.\n`);
  const startBy = Date.now() + deps.config.watch.stableMs + 5_000;
  for (;;) {
    const applying = await withDatabaseErrors(deps.db.location, () => importApplying(deps.db, hold.id));
    if (applying && (applying.status === 'failed' || applying.status === 'interrupted')) {
      // Not the file's fault (database, disk, a stop): the daemon keeps the approval and tries again.
      await say(
        `The daemon's import ${applying.id} of it did not finish (${applying.status}); the daemon tries again. Follow it with \`usersync imports list\`.\n`,
      );
      return { exitCode: 3 };
    }
    if (applying && applying.status !== 'running') {
      await say(resultLine({ id: applying.id, status: applying.status, filePath: applying.filePath ?? '' }));
      return { exitCode: exitCodeOf(applying.status as Parameters<typeof exitCodeOf>[0]) };
    }
    if (!applying && Date.now() > startBy) {
      await say(
        `The daemon has not started applying it yet; it will. Follow it with \`usersync holds list\` and \`usersync imports list\`.\n`,
      );
      return { exitCode: 0 };
    }
    await sleep(POLL_MS);
  }
}

/** The latest import that applies (or applied) the hold; undefined before one began. */
async function importApplying(db: Database, holdId: number): Promise<ImportRecord | undefined> {
  const row = (await db.knex('imports').where('hold_id', holdId).orderBy('id', 'desc').first('id')) as
    { id: number | string } | undefined;
  return row ? getImport(db.knex, Number(row.id)) : undefined;
}

function resultLine(applied: { id: number; status: string; filePath: string }): string {
  if (applied.status === 'held')
    return `A guard now counts more than when the file was held: it is held again as import ${applied.id} (usersync holds show ${applied.id}).\n`;
  return `Applied as import ${applied.id}: ${applied.status}. The file is now ${applied.filePath}\n`;
}
