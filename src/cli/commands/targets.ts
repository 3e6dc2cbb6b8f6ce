/**
 * `usersync targets status|retry|sync` (SPEC §12): what each SCIM target's queue holds, parked
 * changes put back in it, and a full comparison of a target with the directory that corrects
 * every difference. The daemon does the delivering; `sync` delivers its corrections itself.
 */
import { hostname } from 'node:os';
import type { TargetConfig } from '../../config/targets-schema.js';
import { withBusyRetries, withDatabaseErrors } from '../../db/errors.js';
import type { AuditEvent } from '../../db/repositories/audit.js';
import { isoNow } from '../../db/time.js';
import { normaliseUsername } from '../../domain/username.js';
import type { Database } from '../../db/knex.js';
import { chainEnd, parkedUsers, queueCounts, peekTargetState, requeueParked } from '../../db/repositories/targets.js';
import { EXIT, fail } from '../../errors.js';
import { createTargetRuntime, type TargetRuntime } from '../../targets/runtime.js';
import { applySync, planSync, withTargetToItself, type SyncPlan } from '../../targets/sync.js';
import type { CommandModule } from '../command-module.js';
import type { CommandContext } from '../context.js';
import { allowedGuards } from '../guard-options.js';
import { openForChanges } from '../open-for-changes.js';

const BY = { type: 'string', describe: 'Who runs it, for the audit trail (default: your OS user@host)' } as const;

/** Parked users listed by `status`; --json lists as many. */
const PARKED_LISTED = 20;

export const targetsCommand: CommandModule = (cli, run) =>
  cli.command('targets', 'SCIM provisioning targets: status, retry, sync', (y) =>
    y
      .command(
        'status',
        'Per target: changes queued, users delivered, changes parked (with the target’s reason), last success',
        (c) => c.option('json', { type: 'boolean', default: false, describe: 'Print the status as JSON' }),
        (args) => run(args, { readOnly: true }, (context) => status(context, Boolean(args.json))),
      )
      .command(
        'retry <name>',
        'Queue the parked changes of a target again (after fixing what it refused)',
        (c) =>
          c
            .positional('name', { type: 'string', demandOption: true, describe: 'The target (targets[].name)' })
            .option('user', { type: 'string', describe: 'Only this user’s parked change' })
            .option('by', BY),
        (args) => run(args, {}, (context) => retry(context, args)),
      )
      .command(
        'sync <name>',
        'Read the target’s users and correct every difference from the directory (guarded like an import)',
        (c) =>
          c
            .positional('name', { type: 'string', demandOption: true, describe: 'The target (targets[].name)' })
            .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would change; send nothing' })
            .option('allow', {
              type: 'string',
              describe: 'Apply even though the deactivate guard trips: "deactivate" (or "all")',
            })
            .option('json', { type: 'boolean', default: false, describe: 'Print the plan and outcome as JSON' })
            .option('by', BY),
        (args) => run(args, {}, (context) => sync(context, args)),
      )
      .demandCommand(1, 'Name a targets command: status, retry or sync.'),
  );

function targetNamed(context: CommandContext, name: string): TargetConfig {
  const target = context.config.targets.find((t) => t.name === name);
  if (target) return target;
  const names = context.config.targets.map((t) => t.name);
  throw fail('TARGET_UNKNOWN', {
    message: `No target is named "${name}": ${names.length === 0 ? 'none is configured (targets in the configuration)' : `the configured targets are ${names.join(', ')}`}.`,
  });
}

async function status(context: CommandContext, json: boolean): Promise<void> {
  const db = await context.database();
  const views = await withDatabaseErrors(db.location, () => targetViews(db, context.config.targets));
  if (json) return context.out.json(views);
  if (views.length === 0) return context.out.write('No targets are configured (targets in the configuration).\n');
  const lines: string[] = [];
  for (const v of views) {
    lines.push(`${v.name}  ${v.url}${v.enabled ? '' : '  (disabled)'}`);
    lines.push(`  queued      ${v.queued}${v.oldestQueuedAt ? ` (oldest change ${v.oldestQueuedAt})` : ''}`);
    lines.push(`  delivered   ${v.delivered} users, last success ${v.lastSuccessAt ?? 'never'}`);
    lines.push(`  parked      ${v.parked}${v.parked > 0 ? ` (usersync targets retry ${v.name} once fixed)` : ''}`);
    const shown = v.parkedUsers.slice(0, PARKED_LISTED);
    for (const p of shown) lines.push(`    ${p.username}  ${p.at}  ${p.error ?? ''}`);
    if (v.parked > shown.length) lines.push(`    … and ${v.parked - shown.length} more (--json lists up to 1000)`);
    if (v.lastError) lines.push(`  last error  ${v.lastErrorAt ?? ''}  ${v.lastError}`);
    lines.push(
      `  cursor      ${v.cursor} of ${v.head} audit events${v.leaseOwner ? `, delivered by ${v.leaseOwner}` : ''}`,
    );
  }
  await context.out.write(lines.join('\n') + '\n');
}

async function targetViews(db: Database, targets: readonly TargetConfig[]) {
  const head = await chainEnd(db.knex);
  const views = [];
  for (const target of targets) {
    const state = await peekTargetState(db.knex, target.name);
    const counts = await queueCounts(db.knex, target.name, state.cursorSeq);
    const parked = await parkedUsers(db.knex, target.name, counts.parked > PARKED_LISTED ? 1000 : PARKED_LISTED);
    views.push({
      name: target.name,
      url: target.url,
      enabled: target.enabled,
      queued: counts.queued,
      oldestQueuedAt: counts.oldestQueuedAt,
      delivered: state.delivered,
      lastSuccessAt: state.lastSuccessAt,
      parked: counts.parked,
      parkedUsers: parked.map((p) => ({ username: p.username, at: p.updatedAt, error: p.error, attempts: p.attempts })),
      lastError: state.lastError,
      lastErrorAt: state.lastErrorAt,
      cursor: state.cursorSeq,
      head,
      leaseOwner: state.leaseUntil !== null && state.leaseUntil > new Date().toISOString() ? state.leaseOwner : null,
    });
  }
  return views;
}

async function retry(context: CommandContext, args: Record<string, unknown>): Promise<void> {
  const target = targetNamed(context, String(args.name));
  const user = args.user === undefined ? undefined : normaliseUsername(String(args.user));
  const { db, trail, actor } = await openForChanges(context, args.by as string | undefined);
  const events: AuditEvent[] = [];
  const count = await withBusyRetries(db.location, () =>
    db.knex.transaction(async (trx) => {
      events.length = 0; // a try again starts afresh
      const at = isoNow();
      const requeued = await requeueParked(trx, target.name, at, user);
      if (requeued > 0) {
        const changes = { target: target.name, users: requeued, ...(user ? { user } : {}) };
        events.push({ at, importId: null, row: null, username: null, action: 'target.retried', changes, actor });
        await trail.record(trx, events);
      }
      return requeued;
    }),
  );
  trail.committed(events);
  context.logger.info('target.requeued', { target: target.name, users: count, actor, ...(user ? { user } : {}) });
  await context.out.write(
    count === 0
      ? `Nothing is parked for ${target.name}${user ? ` for ${user}` : ''}.\n`
      : `Queued ${count} parked change${count === 1 ? '' : 's'} for ${target.name} again; the daemon delivers them within seconds (usersync targets status shows how it went).\n`,
  );
}

async function sync(context: CommandContext, args: Record<string, unknown>): Promise<void> {
  const target = targetNamed(context, String(args.name));
  const allowed = args.allow === undefined ? new Set<string>() : allowedGuards(String(args.allow));
  const dryRun = Boolean(args.dryRun);
  const opened = await openForChanges(context, args.by as string | undefined);
  const runtime = createTargetRuntime(opened.db.knex, target);
  const limit = context.config.safety.enabled ? context.config.safety.limits.deactivate : -1;
  const run = async () => {
    const planned = await reach(target, () => planSync(opened.db.knex, runtime, dryRun));
    const tripped = limit >= 0 && planned.plan.deactivate.length > limit;
    const held = tripped && !dryRun && !allowed.has('deactivate');
    const outcome = dryRun || held ? null : await applyAndAudit(context, opened, runtime, planned, tripped);
    return { plan: planned.plan, tripped, held, outcome };
  };
  // A dry run only reads; a sync has the target to itself while it reads and corrects.
  const owner = `cli:${hostname()}:${process.pid}`;
  const { plan, tripped, held, outcome } = dryRun
    ? await run()
    : await reach(target, () =>
        withTargetToItself(opened.db.knex, target.name, owner, run, () =>
          context.logger.warn('target.sync_waiting', {
            target: target.name,
            hint: 'the daemon is finishing the round it is delivering; the sync starts when it is done',
          }),
        ),
      );
  const guard = tripped ? { guard: 'deactivate', limit, planned: plan.deactivate.length } : null;
  if (held) context.exitCode = EXIT.held;
  if (outcome?.fault)
    throw fail('TARGET_UNAVAILABLE', {
      message: `${target.name}: ${outcome.fault.message}. ${outcome.delivered} users were corrected before it; the daemon delivers the rest once the target answers, or run the sync again.`,
    });
  if (outcome && outcome.parked > 0) context.exitCode = EXIT.rowsFailed;
  if (args.json) return context.out.json({ ...planView(plan), dryRun, held, guard, ...(outcome ? { outcome } : {}) });
  const lines = planLines(plan);
  const trip = `${plan.deactivate.length} accounts would be deactivated at ${target.name} (deactivate limit ${limit})`;
  if (held)
    lines.push(
      `held: ${trip}`,
      'nothing was sent; to apply it anyway:',
      `  usersync targets sync ${target.name} --allow deactivate`,
    );
  else if (!outcome) lines.push(...(tripped ? [`would be held: ${trip}`] : []), 'dry run: nothing was sent.');
  else
    lines.push(
      `done: ${outcome.delivered} users corrected, ${outcome.deactivatedExtra} extra accounts deactivated, ${outcome.parked} refused by the target (usersync targets status lists them)`,
    );
  await context.out.write(lines.join('\n') + '\n');
}

/** Applies a sync's plan and audits it: who reconciled the target, what it found and what it did. */
async function applyAndAudit(
  context: CommandContext,
  { db, trail, actor }: Awaited<ReturnType<typeof openForChanges>>,
  runtime: TargetRuntime,
  planned: Awaited<ReturnType<typeof planSync>>,
  allowedPast: boolean,
) {
  const { plan } = planned;
  const name = runtime.config.name;
  context.logger.info('target.sync_started', { target: name, ...planCounts(plan) });
  const outcome = await withDatabaseErrors(db.location, () => applySync(db.knex, runtime, planned));
  context.logger.info('target.synced', {
    target: name,
    delivered: outcome.delivered,
    parked: outcome.parked,
    deactivatedExtra: outcome.deactivatedExtra,
    ...(outcome.fault ? { error: outcome.fault.message } : {}),
  });
  const event: AuditEvent = {
    at: isoNow(),
    importId: null,
    row: null,
    username: null,
    action: 'target.synced',
    changes: {
      target: name,
      ...planCounts(plan),
      corrected: outcome.delivered,
      deactivatedExtra: outcome.deactivatedExtra,
      refused: outcome.parked,
      ...(allowedPast ? { allowed: 'deactivate' } : {}),
      ...(outcome.fault ? { stoppedBy: outcome.fault.message } : {}),
    },
    actor,
  };
  await withBusyRetries(db.location, () => db.knex.transaction((trx) => trail.record(trx, [event])));
  trail.committed([event]);
  return outcome;
}

/** Runs `work`, turning a target that cannot be reached into TARGET_UNAVAILABLE (exit 3). */
async function reach<T>(target: TargetConfig, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const fault = error as { name?: string; message?: string };
    if (fault.name !== 'DeliveryFault') throw error;
    throw fail('TARGET_UNAVAILABLE', { message: `${target.name}: ${fault.message ?? ''}` });
  }
}

const planCounts = (plan: SyncPlan) => ({
  atTarget: plan.atTarget,
  inDirectory: plan.inDirectory,
  create: plan.create.length,
  update: plan.update.length,
  memberships: plan.memberships.length,
  deactivate: plan.deactivate.length,
  extra: plan.extra.length,
  unchanged: plan.unchanged,
});

/** The plan with its lists cut to their first 100 names. */
const planView = (plan: SyncPlan) => ({
  target: plan.target,
  counts: planCounts(plan),
  create: plan.create.slice(0, 100),
  update: plan.update.slice(0, 100),
  memberships: plan.memberships.slice(0, 100),
  deactivate: plan.deactivate.slice(0, 100),
});

function planLines(plan: SyncPlan): string[] {
  const some = (names: readonly string[]) =>
    names.length === 0 ? '' : `: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}`;
  return [
    `${plan.target}: ${plan.atTarget} users there, ${plan.inDirectory} in the directory, ${plan.unchanged} the same`,
    `  create       ${plan.create.length}${some(plan.create)}`,
    `  update       ${plan.update.length}${some(plan.update.map((u) => `${u.username} (${u.fields.join(', ')})`))}`,
    `  memberships  ${plan.memberships.length}${some(plan.memberships)}`,
    `  deactivate   ${plan.deactivate.length}${some(plan.deactivate)} (${plan.extra.length} not in the directory)`,
  ];
}
