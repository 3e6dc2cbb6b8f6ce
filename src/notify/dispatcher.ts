/**
 * The daemon's sender (SPEC §11): every few seconds it takes the queued messages whose turn has
 * come and hands each to the SMTP server. Accepted → `sent`, never sent again (a restart finds it
 * sent). Refused for good (a 5xx: no such recipient, bad login) → `failed`. Anything else (server
 * down, timeout, 4xx) → tried again after a capped exponential backoff (notify.retryInitialMs …
 * retryMaxMs). It runs beside the import loop and holds no database connection while it talks to
 * the server, so a dead server costs imports nothing.
 *
 * "Exactly once as far as SMTP allows": a crash after the server took a message but before `sent`
 * was written sends it again after the lease; it keeps its Message-ID, so mail clients can tell.
 */
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/knex.js';
import { backoffCeiling } from '../app/backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { claimMessage, dueMessages, queueState, settleMessage, type QueuedMessage } from './queue.js';
import { createMailer, SendFailure, type Mailer } from './send.js';

export interface NotifyMetrics {
  notification(status: 'sent' | 'retry' | 'failed'): void;
  setNotificationQueue(length: number): void;
}

export interface Dispatcher {
  start(): void;
  /** Looks for due messages now (after an import closed) instead of at the next tick. */
  kick(): void;
  stop(): Promise<void>;
  /** For /healthz: the queue, and why it is stuck when its oldest message waits longer than an hour. */
  status(): { queued: number; oldestQueuedAt: string | null; lastError: string | null; stuck: string | null };
}

const TICK_MS = 2000;
const BATCH = 20;
const STUCK_MS = 60 * 60_000;

export function createDispatcher(deps: {
  config: Readonly<Config>;
  db: Database;
  logger: Logger;
  metrics: NotifyMetrics;
}): Dispatcher {
  const { config, db, metrics } = deps;
  const settings = config.notify;
  const log = deps.logger.child({ module: 'notify' });
  const retry = { ...config.daemon, retryInitialMs: settings.retryInitialMs, retryMaxMs: settings.retryMaxMs };
  // A claimed message is retried after this if the process dies mid-send.
  const leaseMs = 3 * settings.smtp.connectTimeoutMs + 120_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  let again = false;
  let mailer: Mailer | undefined;
  let state = { queued: 0, oldestQueuedAt: null as string | null };
  let lastError: string | null = null;

  async function sendOne(message: QueuedMessage): Promise<void> {
    const now = new Date();
    if (!(await claimMessage(db.knex, message, new Date(now.getTime() + leaseMs).toISOString()))) return;
    const attempt = message.attempts + 1;
    try {
      mailer ??= await createMailer(settings.smtp);
      const result = await mailer.send({
        to: message.recipients,
        subject: message.subject,
        text: message.text,
        html: message.html,
        attachmentPath: message.reportXlsxPath,
        messageId: `<usersync-${message.id}-${message.createdAt.replace(/\D/g, '')}@${hostname()}>`,
      });
      await settleMessage(db.knex, message.id, { status: 'sent', at: new Date().toISOString() });
      metrics.notification('sent');
      const fields = { id: message.id, importId: message.importId, to: result.accepted.length, attempt };
      if (result.rejected.length > 0) log.warn('notify.recipients_rejected', { ...fields, rejected: result.rejected });
      if (!result.attached && message.reportXlsxPath)
        log.warn('notify.report_missing', { ...fields, report: message.reportXlsxPath });
      log.info('notify.sent', fields);
    } catch (error) {
      const failure = error instanceof SendFailure ? error : undefined;
      const why = failure?.message ?? String(describeError(error).message);
      lastError = why;
      if (failure?.permanent) {
        await settleMessage(db.knex, message.id, { status: 'failed', error: why });
        metrics.notification('failed');
        log.error('notify.failed', { id: message.id, importId: message.importId, step: failure.step, error: why });
        return;
      }
      const wait = backoffCeiling(attempt, retry);
      const nextAttemptAt = new Date(Date.now() + wait).toISOString();
      await settleMessage(db.knex, message.id, { status: 'queued', error: why, nextAttemptAt });
      metrics.notification('retry');
      log.warn('notify.retry', { id: message.id, attempt, waitMs: wait, step: failure?.step, error: why });
    }
  }

  async function pass(): Promise<void> {
    for (;;) {
      const due = await dueMessages(db.knex, new Date().toISOString(), BATCH);
      for (const message of due) {
        if (stopping) return;
        await sendOne(message);
      }
      if (due.length < BATCH) break;
    }
    const current = await queueState(db.knex);
    state = { queued: current.queued, oldestQueuedAt: current.oldest };
    metrics.setNotificationQueue(current.queued);
    if (current.queued === 0) lastError = null;
  }

  function schedule(ms: number): void {
    if (stopping) return;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  }

  function run(): void {
    if (stopping) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((error: unknown) => void log.warn('notify.pass_failed', { err: describeError(error) }))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          schedule(0);
        } else schedule(TICK_MS);
      });
  }

  return {
    start: () => schedule(0),
    kick: () => schedule(0),
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
      mailer?.close();
    },
    status() {
      const age = state.oldestQueuedAt === null ? 0 : Date.now() - Date.parse(state.oldestQueuedAt);
      const stuck =
        age > STUCK_MS
          ? `notifications: ${state.queued} queued, the oldest for ${Math.round(age / 60_000)} min` +
            (lastError ? ` (${lastError})` : '')
          : null;
      return { ...state, lastError, stuck };
    },
  };
}
