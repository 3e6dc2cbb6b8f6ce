/**
 * Capped exponential backoff for transient faults (daemon.retryInitialMs … daemon.retryMaxMs):
 * the one formula the boot wait for the database and the file retries share.
 */
import type { Config } from '../config/schema.js';

/** The longest wait before try number `attempt` (1-based). */
export function backoffCeiling(attempt: number, settings: Config['daemon']): number {
  return Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
}
