/**
 * Boots the daemon as named phases (STYLE.md "Lifecycle"); each phase registers its cleanup, and
 * shutdown runs those cleanups in reverse order:
 *
 *   lock → database (+ migrations, waiting while it is unreachable) → folders + catalogue →
 *   recover → watcher → schedules → health
 *
 * Config and logger are made by the CLI before this runs.
 */
import { mkdir } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { mapDatabaseError } from '../db/errors.js';
import { createDatabase, type Database } from '../db/knex.js';
import { migrateToLatest } from '../db/migrate.js';
import { describeError } from '../errors.js';
import { createMetrics } from '../health/metrics.js';
import { startHealthServer, type HealthReport } from '../health/server.js';
import type { AuditLog } from '../logging/audit-log.js';
import type { Logger } from '../logging/logger.js';
import { createAuditTrail } from '../pipeline/audit.js';
import { createPasswordHasher } from '../pipeline/passwords.js';
import { isZipComplete } from '../pipeline/read/index.js';
import { createInboxWatcher, type InboxWatcher } from '../pipeline/watch.js';
import { declareJobs, startJobs, validateJobs } from '../schedule/jobs.js';
import { DAEMON_ACTOR } from './actor.js';
import { backoffCeiling } from './backoff.js';
import { ensureConfiguredCatalog } from './configured-catalog.js';
import { acquireFolderLock } from './lock.js';
import { createDaemon, type Daemon } from './daemon.js';
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
export async function boot(config: Readonly<Config>, logger: Logger, auditLog: AuditLog, shutdown: Shutdown = createShutdown(logger, config.daemon.shutdownTimeoutMs)): Promise<Running> {
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

    for (const folder of Object.values(config.folders)) await mkdir(folder, { recursive: true, mode: 0o700 });
    const lock = await phase('lock', () => acquireFolderLock(config.folders.processing));
    shutdown.register('lock', () => lock.release());

    const db = await phase('database', () => openDatabase(config, logger, shutdown));
    shutdown.register('database', () => db.destroy());
    await phase('catalogue', async () => {
      const created = await ensureConfiguredCatalog(db, config.catalog, createAuditTrail(auditLog, db), DAEMON_ACTOR);
      if (created.roles.length + created.groups.length > 0) log.info('catalog.created', created);
    });

    const metrics = createMetrics();
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
    });
    shutdown.register('work', () => daemon.stop(), { first: true });

    await phase('recover', () => daemon.recover());
    watcher = await phase('watcher', async () => {
      const w = createInboxWatcher({ settings: config.watch, inbox: config.folders.inbox, logger, isZipComplete, onReady: (file) => daemon.enqueue(file) });
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

    let healthPort: number | null = null;
    if (config.health.port !== 0) {
      const server = await phase('health', () =>
        startHealthServer({ host: config.health.host, port: config.health.port, logger, metrics, report: () => healthReport(db, daemon, watcher!, shutdown) }),
      );
      healthPort = server.address()?.port ?? null;
      shutdown.register('health', () => server.close());
    }
    daemon.kick();
    log.info('daemon.started', { inbox: config.folders.inbox, database: db.description, health: healthPort === null ? 'off' : `${config.health.host}:${healthPort}` });
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

async function healthReport(db: Database, daemon: Daemon, watcher: InboxWatcher, shutdown: Shutdown): Promise<HealthReport> {
  const database = await Promise.race([
    db.knex.raw('SELECT 1').then(
      () => ({ reachable: true }),
      (error: unknown) => ({ reachable: false, error: mapDatabaseError(error, db.location).message }),
    ),
    new Promise<{ reachable: false; error: string }>((resolve) => setTimeout(() => resolve({ reachable: false, error: 'no answer within 2 s' }), 2000).unref()),
  ]);
  const state = daemon.status();
  const ok = database.reachable && watcher.healthy() && state.degraded === null;
  return {
    status: shutdown.started() ? 'stopping' : ok ? 'ok' : 'degraded',
    database: { ...database, url: db.description },
    watcher: { running: watcher.healthy(), pending: watcher.pending() },
    queue: { length: state.queued, processing: state.processing, retrying: state.retrying },
    degraded: state.degraded,
    lastImport: state.lastImport,
  };
}
