/**
 * Who is told about an import (SPEC §11), and the hook that queues the message in the transaction
 * that closes it (pipeline/import-request.ts ImportHooks.inClosingTransaction):
 * - an outcome listed in notify.on: notify.to and the feed's feeds[].notify;
 * - a held file, whatever notify.on says: also safety.approvers (someone must decide it);
 * - nobody to tell, or no SMTP server configured: nothing is queued.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import type { ReportSummary } from '../pipeline/report/types.js';
import { enqueueMessage } from './queue.js';
import { renderImportMessage } from './render.js';

/** The addresses told about this import, each once (compared ignoring case), in config order. */
export function recipientsFor(config: Readonly<Config>, summary: ReportSummary): string[] {
  const feed = config.feeds.find((f) => f.name.toLowerCase() === (summary.feed ?? '').toLowerCase());
  const listed = [
    ...(config.notify.on.includes(summary.outcome) ? [...config.notify.to, ...(feed?.notify ?? [])] : []),
    ...(summary.outcome === 'held' ? config.safety.approvers : []),
  ];
  const seen = new Set<string>();
  return listed.filter((address) => {
    const key = address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Queues the import's message inside `trx` when someone is to be told; one INSERT at most. */
export async function queueImportMessage(trx: Knex, config: Readonly<Config>, summary: ReportSummary): Promise<void> {
  if (config.notify.smtp.url === '' || summary.dryRun) return;
  const recipients = recipientsFor(config, summary);
  if (recipients.length === 0) return;
  await enqueueMessage(trx, {
    importId: summary.importId,
    recipients,
    now: new Date().toISOString(),
    ...renderImportMessage(summary),
  });
}
