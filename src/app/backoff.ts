/**
 * Capped exponential backoff for transient faults (daemon.retryInitialMs … daemon.retryMaxMs):
 * the one formula the boot wait for the database, the file retries and the SCIM targets' retries share.
 */
import type { Config } from '../config/schema.js';

/** The longest wait before try number `attempt` (1-based). */
export function backoffCeiling(
  attempt: number,
  settings: Pick<Config['daemon'], 'retryInitialMs' | 'retryMaxMs'>,
): number {
  return Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** Math.min(attempt - 1, 30));
}
