/**
 * Scheduled work, declared as a table (Uptime Kuma's jobs.js): the inbox rescan and the
 * scheduled sources. Every job runs with noOverlap and the configured time zone (PITFALLS §6).
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import { describeError, fail } from '../errors.js';
import type { Logger } from '../logging/logger.js';

export interface Job {
  name: string;
  cron: string;
  run(): Promise<void>;
}

export interface Scheduler {
  stop(): Promise<void>;
}

/** The jobs of a config: `rescan` plus one `source:<name>` per scheduled source. */
export function declareJobs(
  config: Readonly<Config>,
  actions: { rescan(): Promise<void>; copySource(source: Config['schedule']['sources'][number]): Promise<void> },
): Job[] {
  const jobs: Job[] = [];
  if (config.schedule.rescan.trim()) jobs.push({ name: 'rescan', cron: config.schedule.rescan, run: actions.rescan });
  for (const source of config.schedule.sources)
    jobs.push({ name: `source:${source.name}`, cron: source.cron, run: () => actions.copySource(source) });
  return jobs;
}

/** Checks expressions and the time zone before anything starts (a typo exits 2 at boot). */
export function validateJobs(jobs: readonly Job[], timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw fail('SCHEDULE_INVALID', { message: `schedule.timezone "${timezone}" is not an IANA time zone.` });
  }
  for (const job of jobs) {
    if (!cron.validate(job.cron))
      throw fail('SCHEDULE_INVALID', { message: `The cron expression "${job.cron}" of ${job.name} is not valid.` });
  }
}

export function startJobs(jobs: readonly Job[], timezone: string, logger: Logger): Scheduler {
  const log = logger.child({ module: 'schedule' });
  // node-cron otherwise logs overlaps and misses to the console with colour codes (PITFALLS §6).
  const cronLogger = {
    info: (message: string) => log.debug('cron.info', { detail: message }),
    warn: (message: string) => log.warn('cron.warn', { detail: message }),
    error: (message: string | Error) => log.error('cron.error', { detail: String(message) }),
    debug: (message: string) => log.debug('cron.debug', { detail: message }),
  };
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(
      job.cron,
      async () => {
        try {
          await job.run();
        } catch (error) {
          log.error('job.failed', { job: job.name, err: describeError(error) });
        }
      },
      { name: job.name, timezone, noOverlap: true, logger: cronLogger },
    ),
  );
  log.info('schedule.started', { jobs: jobs.map((j) => `${j.name} (${j.cron})`) });
  return {
    stop: async () => {
      for (const task of tasks) {
        await task.stop();
        await task.destroy();
      }
    },
  };
}
