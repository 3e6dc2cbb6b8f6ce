/**
 * Boots the daemon as named phases (STYLE.md "Lifecycle"); each phase registers its cleanup, and
 * shutdown runs those cleanups in reverse order:
 *
 *   lock → database (+ migrations, waiting while it is unreachable) → folders + catalogue →
 *   recover → watcher → schedules → health → notify (the e-mail sender, SPEC §11) →
 *   targets (SCIM provisioning, SPEC §12)
 *
 * Config and logger are made by the CLI before this runs.
 */
import { lstat, mkdir } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { mapDatabaseError } from '../db/errors.js';
import { createDatabase, type Database } from '../db/knex.js';
import { migrateToLatest } from '../db/migrate.js';
import { describeError, fail } from '../errors.js';
import { createMetrics } from '../health/metrics.js';
import { createDispatcher, type Dispatcher } from '../notify/dispatcher.js';
import { createTargetsDispatcher, type TargetsDispatcher } from '../targets/dispatcher.js';
import { startHealthServer, type HealthReport } from '../health/server.js';
import type { AuditLog } from '../logging/audit-log.js';
import type { Logger } from '../logging/logger.js';
import { createAuditTrail } from '../pipeline/audit.js';
import { createPasswordHasher } from '../pipeline/passwords.js';
import { isZipComplete } from '../pipeline/read/index.js';
import { findWriters } from '../pipeline/open-writers.js';
import { createInboxWatcher, type InboxWatcher } from '../pipeline/watch.js';
import { declareJobs, startJobs, validateJobs } from '../schedule/jobs.js';
import { DAEMON_ACTOR } from './actor.js';
import { backoffCeiling } from './backoff.js';
import { ensureConfiguredCatalog } from './configured-catalog.js';
import { acquireFolderLock } from './lock.js';
import { createDaemon, type Daemon } from './daemon.js';
import { createRefusedEntries, type RefusedEntries } from './refused.js';
import { createShutdown, type Shutdown } from './shutdown.js';
import { scanInbox } from './rescan.js';
import { createSourceCopier } from './sources.js';

export interface Running {
  daemon: Daemon;
  shutdown: Shutdown;
  /** The health server's port (useful when health.port asked the OS to choose). */
  healthPort: number | null;
}

/** Boots the daemon; `shutdown` is created by the caller so signals work while boot still waits. */
export async function boot(
  config: Readonly<Config>,
  logger: Logger,
  auditLog: AuditLog,
  shutdown: Shutdown = createShutdown(logger, config.daemon.shutdownTimeoutMs),
): Promise<Running> {
  const log = logger.child({ module: 'boot' });
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await run();
    log.info('boot.phase', { phase: name, ms: Date.now() - started });
    return result;
  };
  try {
    const jobsToCheck = declareJobs(config, { rescan: async () => undefined, copySource: async () => undefined });
    validateJobs(jobsToCheck, config.schedule.timezone);

    for (const folder of Object.values(config.folders)) await makeFolder(folder);
    const lock = await phase('lock', () => acquireFolderLock(config.folders.processing));
    shutdown.register('lock', () => lock.release());

    const db = await phase('database', () => openDatabase(config, logger, shutdown));
    shutdown.register('database', () => db.destroy());
    await phase('catalogue', async () => {
      const created = await ensureConfiguredCatalog(db, config.catalog, createAuditTrail(auditLog, db), DAEMON_ACTOR);
      if (created.roles.length + created.groups.length > 0) log.info('catalog.created', created);
    });

    const metrics = createMetrics();
    const refused = createRefusedEntries(logger, metrics);
    let watcher: InboxWatcher | undefined;
    const daemon = createDaemon({
      config,
      db,
      logger,
      audit: createAuditTrail(auditLog, db),
      hasher: createPasswordHasher(config.import),
      metrics,
      recheck: (p) => watcher?.consider(p),
      oldestSettlingMtime: () => watcher?.oldestPendingMtime() ?? Infinity,
      onRefused: (refusal) => refused.refuse(refusal),
    });
    shutdown.register('work', () => daemon.stop(), { first: true });

    await phase('recover', () => daemon.recover());
    watcher = await phase('watcher', async () => {
      const w = createInboxWatcher({
        settings: config.watch,
        inbox: config.folders.inbox,
        logger,
        isZipComplete,
        writersOf: async (file) => {
          const info = await lstat(file, { bigint: true }).catch(() => undefined);
          return info ? (await findWriters([info])).writers : [];
        },
        onReady: (file) => daemon.enqueue(file),
        onRefused: (refusal) => refused.refuse(refusal),
        onGone: (file) => refused.forget(file),
        retryDelayMs: (attempt) => backoffCeiling(attempt, config.daemon),
      });
      await w.ready;
      return w;
    });
    shutdown.register('watcher', () => watcher!.close());
    const rescan = async () => {
      for (const file of await scanInbox(config.folders.inbox)) watcher?.consider(file);
    };
    const copier = createSourceCopier(config.folders.inbox, logger);
    const jobs = declareJobs(config, { rescan, copySource: (source) => copier.copy(source) });
    const scheduler = await phase('schedules', async () => startJobs(jobs, config.schedule.timezone, logger));
    shutdown.register('schedules', () => scheduler.stop());

    const dispatcher = createDispatcher({ config, db, logger, metrics });
    const targets = createTargetsDispatcher({
      config,
      db,
      logger,
      metrics,
      importing: () => daemon.status().processing !== null,
    });
    let healthPort: number | null = null;
    if (config.health.port !== 0) {
      const server = await phase('health', () =>
        startHealthServer({
          host: config.health.host,
          port: config.health.port,
          logger,
          metrics,
          report: () => healthReport(db, daemon, watcher!, refused, shutdown, dispatcher, targets),
        }),
      );
      healthPort = server.address()?.port ?? null;
      shutdown.register('health', () => server.close());
    }
    daemon.kick();
    daemon.watchApprovals();
    if (config.notify.smtp.url !== '') {
      // Registered after the database, so it stops (and lets go of its connection) before that closes.
      shutdown.register('notify', () => dispatcher.stop());
      dispatcher.start();
    }
    if (config.targets.some((t) => t.enabled)) {
      // Like the e-mail sender: stopped before the database closes.
      shutdown.register('targets', () => targets.stop());
      targets.start();
    }
    log.info('daemon.started', {
      inbox: config.folders.inbox,
      database: db.description,
      health: healthPort === null ? 'off' : `${config.health.host}:${healthPort}`,
    });
    return { daemon, shutdown, healthPort };
  } catch (error) {
    await shutdown.run('boot failed');
    throw error;
  }
}

/** Connects and migrates, waiting (with backoff) while the database is unreachable. */
async function openDatabase(config: Readonly<Config>, logger: Logger, shutdown: Shutdown): Promise<Database> {
  const db = createDatabase(config, logger);
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateToLatest(db);
      return db;
    } catch (error) {
      const mapped = mapDatabaseError(error, db.location);
      if (mapped.kind !== 'transient' || shutdown.started()) {
        await db.destroy();
        throw mapped;
      }
      const wait = backoffCeiling(attempt, config.daemon);
      logger.warn('boot.database_unavailable', { attempt, waitMs: wait, err: describeError(mapped) });
      await shutdown.sleep(wait);
    }
  }
}

/** Creates a daemon folder, saying what to do when it cannot (a bind mount the container's user may not write). */
async function makeFolder(folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true, mode: 0o700 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    const ids = process.getuid === undefined ? '' : ` (uid ${process.getuid()}, gid ${process.getgid?.()})`;
    throw fail('FS_IO_FAILED', {
      message:
        `Cannot create the folder ${folder} (${code}): its parent must be writable by the daemon's account${ids}. ` +
        "In a container, give the mounted folder to that uid and gid (chown) or run the container as the folder's owner " +
        '(--user); see Operations in the README.',
      cause,
    });
  }
}

/**
 * /healthz: 503 with `degraded` saying why (every reason, `; `-separated) when the database is
 * unreachable, the watcher is being restarted, or a file waits for a retry; refused inbox entries
 * are listed but leave it 200 (refused.ts), and so do held imports waiting for a decision (`held`).
 */
async function healthReport(
  db: Database,
  daemon: Daemon,
  watcher: InboxWatcher,
  refused: RefusedEntries,
  shutdown: Shutdown,
  dispatcher: Dispatcher,
  targets: TargetsDispatcher,
): Promise<HealthReport> {
  const provisioning = targets.status();
  const database = await probeDatabase(db);
  const state = daemon.status();
  const reasons = [
    database.reachable ? null : `database: ${database.code}: ${database.error}`,
    watcher.healthy() ? null : `watcher: ${watcher.problem() ?? 'not running'}`,
    state.degraded,
    dispatcher.status().stuck,
    provisioning.stuck,
  ].filter((r): r is string => r !== null);
  const refusedEntries = await refused.list();
  return {
    status: shutdown.started() ? 'stopping' : reasons.length === 0 ? 'ok' : 'degraded',
    database: database.reachable
      ? { reachable: true, url: db.description }
      : { reachable: false, error: database.error, url: db.description },
    watcher: { running: watcher.healthy(), pending: watcher.pending(), problem: watcher.problem() },
    queue: { length: state.queued, processing: state.processing, retrying: state.retrying, waiting: state.waiting },
    degraded: reasons.length === 0 ? null : reasons.join('; '),
    refused: refusedEntries,
    lastImport: state.lastImport,
    // Held imports wait for a person, not for the daemon: reported, but still 200 (SPEC §9).
    held: state.held ?? 0,
    notifications: dispatcher.status(),
    targets: provisioning.targets,
  };
}

/** SELECT 1 within 2 s; a failure carries the error code it maps to (the reason /healthz gives). */
function probeDatabase(db: Database): Promise<{ reachable: true } | { reachable: false; error: string; code: string }> {
  return Promise.race([
    db.knex.raw('SELECT 1').then(
      () => ({ reachable: true as const }),
      (error: unknown) => {
        const mapped = mapDatabaseError(error, db.location);
        return { reachable: false as const, error: mapped.message, code: mapped.code };
      },
    ),
    new Promise<{ reachable: false; error: string; code: string }>((resolve) =>
      setTimeout(
        () => resolve({ reachable: false, error: 'no answer within 2 s', code: 'DB_UNAVAILABLE' }),
        2000,
      ).unref(),
    ),
  ]);
}
