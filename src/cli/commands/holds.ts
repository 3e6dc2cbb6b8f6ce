/**
 * `usersync holds list|show|approve|decline` (SPEC §9): the imports the daemon held for approval
 * because a guard tripped, and the decision on each. Approving applies the file — through the
 * daemon when one runs (it polls for approved holds), else right here, under the daemon's lock.
 */
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { withDatabaseErrors } from '../../db/errors.js';
import type { Database } from '../../db/knex.js';
import { getHold, listOpenHolds, type Hold } from '../../db/repositories/holds.js';
import { GUARD_WORDS } from '../../domain/guards.js';
import { fail } from '../../errors.js';
import type { CommandModule } from '../command-module.js';
import type { CommandContext } from '../context.js';
import { openForChanges } from '../open-for-changes.js';

export const holdsCommand: CommandModule = (cli, run) =>
  cli.command('holds', 'Imports held for approval: list, show, approve, decline', (y) =>
    y
      .command(
        'list',
        'List held imports waiting for a decision (or, once approved, to be applied), oldest first',
        (c) => c.option('json', { type: 'boolean', default: false }),
        (args) =>
          run(args, { readOnly: true }, async ({ database, out }) => {
            const db = await database();
            const holds = await withDatabaseErrors(db.location, () => listOpenHolds(db.knex));
            if (args.json) return out.json(holds.map(holdView));
            if (holds.length === 0) return out.write('No imports are held.\n');
            await out.write(holds.map(holdLine).join('\n') + '\n');
          }),
      )
      .command(
        'show <id>',
        'Show the held report of one held import',
        (c) =>
          c
            .positional('id', { type: 'number', demandOption: true })
            .option('json', { type: 'boolean', default: false }),
        (args) =>
          run(args, { readOnly: true }, async ({ database, out }) => {
            const db = await database();
            const hold = await findHold(db, Number(args.id));
            const report = hold.reportJsonPath
              ? await readFile(hold.reportJsonPath, 'utf8').catch(() => undefined)
              : undefined;
            if (args.json)
              return out.json({ ...holdView(hold), report: report ? (JSON.parse(report) as unknown) : null });
            await out.write(describeHold(hold));
          }),
      )
      .command(
        'approve <id>',
        'Apply a held file: planned again against the directory as it is now (held again if a guard now counts more)',
        (c) =>
          decisionOptions(c).option('force', {
            type: 'boolean',
            default: false,
            describe: 'Apply it even though a newer file of the same feed was applied since',
          }),
        (args) => run(args, {}, (context) => approve(context, args)),
      )
      .command(
        'decline <id>',
        'Decline a held file: nothing is applied; it goes to error/ (redacted) with its report',
        decisionOptions,
        (args) => run(args, {}, (context) => decline(context, args)),
      )
      .demandCommand(1, 'Name a holds command: list, show, approve or decline.'),
  );

const decisionOptions = (c: Argv) =>
  c
    .positional('id', { type: 'number', demandOption: true, describe: 'The held import’s id (holds list)' })
    .option('by', { type: 'string', describe: 'Who decides, for the audit trail (default: your OS user@host)' })
    .option('note', { type: 'string', describe: 'Why, for the audit trail' });

interface DecisionArgs {
  id: number;
  by?: string | undefined;
  note?: string | undefined;
  force?: boolean | undefined;
}

async function approve(context: CommandContext, args: DecisionArgs): Promise<void> {
  const { approveHold } = await import('../../app/holds.js');
  const { applyApprovedHold } = await import('../../app/apply-hold.js');
  const { db, trail, actor } = await openForChanges(context, args.by);
  const hold = await findHold(db, Number(args.id));
  const deps = { config: context.config, db, audit: trail };
  await approveHold(deps, hold, { by: actor, note: args.note ?? null, force: args.force === true });
  const applied = await applyApprovedHold({ ...deps, logger: context.logger }, hold, (line) => context.out.write(line));
  context.exitCode = applied.exitCode;
}

async function decline(context: CommandContext, args: DecisionArgs): Promise<void> {
  const { declineHold } = await import('../../app/holds.js');
  const { db, trail, actor } = await openForChanges(context, args.by);
  const hold = await findHold(db, Number(args.id));
  const to = await declineHold({ config: context.config, db, audit: trail }, hold, {
    by: actor,
    note: args.note ?? null,
  });
  await context.out.write(
    `Declined import ${hold.id} (${hold.originalName}); nothing was applied. The file is now ${to}\n`,
  );
}

async function findHold(db: Database, id: number): Promise<Hold> {
  const hold = await withDatabaseErrors(db.location, () => getHold(db.knex, id));
  if (!hold) throw fail('HOLD_NOT_FOUND', { message: `No held import has the id ${id} in ${db.description}.` });
  return hold;
}

function holdView(hold: Hold) {
  const { id, originalName: file, feed, heldSince, guards, decision, decidedBy, decidedAt, note, filePath } = hold;
  const { resolvedBy, heldAgainFrom } = hold;
  return {
    id,
    file,
    feed,
    heldSince,
    guards,
    decision,
    decidedBy,
    decidedAt,
    note,
    resolvedBy,
    heldAgainFrom,
    filePath,
  };
}

/** `holds show` also shows decided holds: a declined or applied one must not read as waiting. */
function state(hold: Hold): string {
  const by = hold.decidedBy ?? '?';
  if (hold.decision === 'declined') return `declined by ${by}`;
  if (hold.decision !== 'approved') return 'waiting for a decision';
  return hold.resolvedBy === null
    ? `approved by ${by}, waiting to be applied`
    : `approved by ${by}; applied by import ${hold.resolvedBy} (usersync imports show ${hold.resolvedBy})`;
}

function holdLine(hold: Hold): string {
  const guards = hold.guards.map((g) => `${g.guard} ${g.planned}>${g.limit}`).join(', ');
  return `${String(hold.id).padStart(6)}  ${hold.heldSince}  ${hold.feed}  ${hold.originalName}  [${guards}]  ${state(hold)}`;
}

function describeHold(hold: Hold): string {
  const lines: Array<[string, string]> = [
    ['Held import', String(hold.id)],
    ['File', hold.originalName],
    ['Feed', hold.feed],
    ['Held since', hold.heldSince],
    ['State', state(hold)],
    ...hold.guards.map((g): [string, string] => [
      'Guard',
      `${g.guard}: ${g.planned} ${GUARD_WORDS[g.guard]} (limit ${g.limit}); first: ${g.users.slice(0, 10).join(', ')}`,
    ]),
    ['Held file', hold.filePath],
    ['Report', hold.reportXlsxPath ?? ''],
    ['To approve', `usersync holds approve ${hold.id} [--note TEXT]`],
    ['To decline', `usersync holds decline ${hold.id} [--note TEXT]`],
  ];
  return lines.map(([label, value]) => `${label.padEnd(12)} ${value}`).join('\n') + '\n';
}
