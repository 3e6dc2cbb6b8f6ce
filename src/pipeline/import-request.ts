/**
 * What an import is given and what it gives back. Kept apart from the orchestrator (process-file.ts)
 * because the stages it calls (apply/) need these types too: importing them from the orchestrator
 * would make each stage depend on the module that depends on it.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/knex.js';
import type { GuardCounts, GuardName } from '../domain/guards.js';
import type { ImportSource } from '../db/repositories/imports.js';
import type { Clock } from '../db/time.js';
import type { Logger } from '../logging/logger.js';
import type { GuardDecision } from './apply/plan.js';
import type { AuditTrail } from './audit.js';
import type { PasswordHasher } from './passwords.js';
import type { SpreadsheetReader } from './read/index.js';
import type { ReportCounts, ReportPaths, ReportSummary } from './report/index.js';

export interface PipelineDeps {
  config: Readonly<Config>;
  db: Database;
  logger: Logger;
  audit: AuditTrail;
  hasher: PasswordHasher;
  clock?: Clock;
}

/** The file as the import read it: what the daemon compares the file with afterwards. */
export interface ReadFile {
  importId: number | null;
  sha256: string;
  bytes: number;
}

/** Where the file and its reports end up; recorded in the register when it closes. */
export interface FinalPlace {
  filePath: string;
  reports: ReportPaths;
  /** sha256 of the archived copy when it is a redacted rewrite; null when the original was archived. */
  redactedSha256?: string | null;
}

/** An archive step that knows its paths before anything moves, so the register can record them. */
export interface PreparedArchive {
  place: FinalPlace;
  /** Moves the file and its reports to `place`; runs after the register has closed. */
  publish(): Promise<void>;
}

/** Earlier runs of the same claimed file, which the run that finishes it supersedes. */
export interface EarlierRuns {
  /** Left `running`: closed as interrupted when this run closes. */
  running: number[];
  /** Closed already because the file changed while they read it. */
  changed: number[];
}

/**
 * The daemon's steps around a claimed file (app/daemon.ts). The command line has none: it reads
 * the file where it is and leaves it there.
 */
export interface ClaimSteps {
  /** Waits until nobody writes the claimed file any more (settle.ts). */
  settle(): Promise<void>;
  /** Throws FILE_CHANGED_DURING_IMPORT when the file is no longer the one that was read. */
  verifyUnchanged(read: ReadFile): Promise<void>;
  /**
   * Earlier runs of this claim that this one replaces: runs left `running` by a crash or a stop
   * (closed as interrupted), and runs closed because the file changed under them. Asked before the
   * register is opened, so the new run never finds itself.
   */
  earlierRuns(): Promise<EarlierRuns>;
  /** Chooses the archive/ or error/ names and stages a redacted copy; moves nothing yet (archive.ts). */
  prepareArchive(done: {
    importId: number | null;
    success: boolean;
    /** Held for approval (SPEC §9): the file and its reports go to folders.held, unredacted. */
    held: boolean;
    reports: ReportPaths;
    carriedPasswords: boolean;
  }): Promise<PreparedArchive>;
}

/**
 * Where safe unattended sync (SPEC §8–12) plugs into the flow, each called at its place when
 * present, so adding one changes no other step. Planning and the guards (SPEC §9) are part of
 * the apply stage itself (apply/plan.ts).
 */
export interface ImportHooks {
  /**
   * Called once the whole plan has been checked and is about to be applied, before its first
   * write: what the guards decided. The directory may change meanwhile; the apply stage then
   * fails with DIRECTORY_CHANGED_DURING_IMPORT rather than apply a plan that no longer holds.
   */
  afterPlan?(run: { importId: number | null; guards: GuardDecision }): Promise<void>;
  /** SPEC §8 plugs in here: a mirror feed deactivates the users it owns that the file left out. */
  afterApply?(run: { importId: number | null; counts: ReportCounts }): Promise<void>;
  /** SPEC §11–12 plug in here: outbox rows (messages, provisioning) in the transaction that closes the register. */
  inClosingTransaction?(trx: Knex, summary: ReportSummary): Promise<void>;
}

export interface ProcessRequest {
  /** Where the file is now. */
  filePath: string;
  /** The name HR gave it (reports and the register use it). */
  originalName: string;
  source: ImportSource;
  /** Who runs the import (app/actor.ts): recorded in the register and on every audit event it writes. */
  actor: string;
  dryRun: boolean;
  /** Folder the two reports are written to. */
  reportDir: string;
  /** Report names are `<stem>.report.{json,xlsx}`; defaults to the original name without extension. */
  reportStem?: string;
  /** Called after each batch with the number of data rows done. */
  onProgress?: (rows: number) => void;
  /** Aborting stops after the batch being written commits; the import stays `running` for recovery. */
  signal?: AbortSignal;
  /**
   * A reader already opening for this very file (opened with the same import settings), so that
   * reading overlaps start-up; undefined when it was not read ahead. processFile owns it: it is
   * used or closed whatever happens.
   */
  reader?: Promise<SpreadsheetReader | undefined>;
  /** The daemon's claimed file: settled first, verified, superseding earlier runs, archived. */
  claim?: ClaimSteps;
  hooks?: ImportHooks;
  /** The feed the file belongs to (SPEC §8, feeds.ts); the built-in `inbox` when not given. */
  feed?: string;
  /** Guards the operator lets through with `--allow` (SPEC §9); the override is audited. */
  allow?: ReadonlySet<GuardName>;
  /**
   * Applying an approved hold (SPEC §9): the held import, and the count of each guard that tripped
   * when it was held. A guard that now counts more than it did (or trips when it did not) holds
   * the file again instead.
   */
  approval?: { holdId: number; counts: Partial<GuardCounts> };
}

export interface ProcessResult {
  summary: ReportSummary;
  /** Where the reports are now (archive/ or error/ for the daemon). */
  reports: ReportPaths;
  /** Where the file is now. */
  filePath: string;
  /** The archived copy is a rewrite with the Password column emptied. */
  redacted: boolean;
  /** SPEC §3: 0 every row applied, 1 some rows failed, 2 rejected; §9: 4 held for approval. */
  exitCode: 0 | 1 | 2 | 4;
  /** The file holds (or may hold) passwords: its archived copy must be redacted. */
  carriedPasswords: boolean;
}
