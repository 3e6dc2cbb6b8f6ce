/**
 * The outbox table (migration 0005): messages queued in the transaction that closes an import and
 * taken by the daemon's dispatcher. A message is claimed before it is sent by moving its
 * `next_attempt_at` past the send's longest duration (a lease), so a crash mid-send retries it and
 * a second dispatcher on the same database never sends it twice at once.
 */
import type { Knex } from 'knex';
import type { RenderedMessage } from './render.js';

export type NotificationStatus = 'queued' | 'sent' | 'failed';

export interface QueuedMessage extends RenderedMessage {
  id: number;
  importId: number | null;
  recipients: string[];
  attempts: number;
  createdAt: string;
  /** Where the register says the import's xlsx report is now (attached when it exists). */
  reportXlsxPath: string | null;
}

/** Queues one message: a single INSERT, made inside the import's closing transaction. */
export async function enqueueMessage(
  trx: Knex,
  message: RenderedMessage & { importId: number | null; recipients: string[]; now: string },
): Promise<void> {
  await trx('notifications').insert({
    import_id: message.importId,
    status: 'queued',
    recipients: JSON.stringify(message.recipients),
    subject: message.subject,
    body_text: message.text,
    body_html: message.html,
    attempts: 0,
    created_at: message.now,
    next_attempt_at: message.now,
  });
}

interface Row {
  id: number | string;
  import_id: number | string | null;
  recipients: string;
  subject: string;
  body_text: string;
  body_html: string;
  attempts: number | string;
  created_at: string;
  report_xlsx_path: string | null;
}

/** Messages whose turn has come, oldest first. */
export async function dueMessages(db: Knex, now: string, limit: number): Promise<QueuedMessage[]> {
  const rows: Row[] = await db('notifications as n')
    .leftJoin('imports as i', 'i.id', 'n.import_id')
    .where('n.status', 'queued')
    .andWhere('n.next_attempt_at', '<=', now)
    .orderBy('n.id')
    .limit(limit)
    .select('n.id', 'n.import_id', 'n.recipients', 'n.subject', 'n.body_text', 'n.body_html', 'n.attempts')
    .select('n.created_at', 'i.report_xlsx_path');
  return rows.map((row) => ({
    id: Number(row.id),
    importId: row.import_id === null ? null : Number(row.import_id),
    recipients: JSON.parse(row.recipients) as string[],
    subject: row.subject,
    text: row.body_text,
    html: row.body_html,
    attempts: Number(row.attempts),
    createdAt: row.created_at,
    reportXlsxPath: row.report_xlsx_path,
  }));
}

/** Takes the message for one try (false when another dispatcher took it first). */
export async function claimMessage(db: Knex, message: QueuedMessage, leaseUntil: string): Promise<boolean> {
  const changed = await db('notifications')
    .where({ id: message.id, status: 'queued', attempts: message.attempts })
    .update({ attempts: message.attempts + 1, next_attempt_at: leaseUntil });
  return changed === 1;
}

/** Records the outcome of a try: sent, failed for good, or queued again for `nextAttemptAt`. */
export async function settleMessage(
  db: Knex,
  id: number,
  outcome: { status: 'sent'; at: string } | { status: 'failed' | 'queued'; error: string; nextAttemptAt?: string },
): Promise<void> {
  await db('notifications')
    .where({ id })
    .update(
      outcome.status === 'sent'
        ? { status: 'sent', sent_at: outcome.at, last_error: null }
        : {
            status: outcome.status,
            last_error: outcome.error.slice(0, 2000),
            ...(outcome.nextAttemptAt ? { next_attempt_at: outcome.nextAttemptAt } : {}),
          },
    );
}

/** How many messages wait, and since when the oldest does (null when none). */
export async function queueState(db: Knex): Promise<{ queued: number; oldest: string | null }> {
  const row = (await db('notifications')
    .where('status', 'queued')
    .count({ n: '*' })
    .min({ oldest: 'created_at' })
    .first()) as { n: number | string; oldest: string | null } | undefined;
  return { queued: Number(row?.n ?? 0), oldest: row?.oldest ?? null };
}
