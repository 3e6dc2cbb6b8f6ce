/**
 * `usersync imports revert <id> [--dry-run] [--force] [--json]` (SPEC §10): undoes an applied
 * import as a new import (pipeline/revert/). Exit codes as for an import: 0 every user set back,
 * 1 conflicts or failed rows, 4 held by a guard with nothing written (`--allow` applies it), 2 an
 * unknown import or one that wrote nothing.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { GUARD_NAMES, type GuardName } from '../../domain/guards.js';
import { UsersyncError, fail } from '../../errors.js';
import type { RevertResult } from '../../pipeline/revert/index.js';
import type { Runner } from '../command-module.js';
import type { CommandContext } from '../context.js';
import { allowedGuards, guardLines } from '../guard-options.js';
import { listenForInterrupt } from '../interrupt.js';

interface RevertArgs {
  id: number;
  dryRun: boolean;
  force: boolean;
  json: boolean;
  reportDir?: string | undefined;
  allow?: ReadonlySet<GuardName> | undefined;
}

export const addRevertCommand = (y: Argv, run: Runner): Argv =>
  y.command(
    'revert <id>',
    'Undo an applied import: fields set back from the audit trail, created users deactivated, deactivated users reactivated',
    (c) =>
      c
        .positional('id', {
          type: 'number',
          demandOption: true,
          describe: 'The import to undo (usersync imports list)',
        })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Report would-revert rows and write nothing' })
        .option('force', {
          type: 'boolean',
          default: false,
          describe: 'Also set back fields that changed again after the import (conflicts)',
        })
        .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
        .option('report-dir', {
          type: 'string',
          describe: 'Write the reports here (default: the archive folder of today, as for an import)',
        })
        .option('allow', {
          type: 'string',
          describe: `Apply despite these tripped guards (audited): ${GUARD_NAMES.join(', ')}, or all`,
        }),
    (args) => {
      const id = Number(args.id);
      if (!Number.isSafeInteger(id) || id < 1)
        throw fail('USAGE_INVALID', {
          message: `"${String(args.id)}" is not an import id; give a number from \`usersync imports list\`.`,
        });
      const options: RevertArgs = {
        id,
        dryRun: Boolean(args.dryRun),
        force: Boolean(args.force),
        json: Boolean(args.json),
        reportDir: args.reportDir as string | undefined,
        allow: args.allow === undefined ? undefined : allowedGuards(String(args.allow)),
      };
      return run(args, {}, (context) => revert(context, options));
    },
  );

async function revert(context: CommandContext, args: RevertArgs): Promise<void> {
  const [{ revertImport }, { openPipeline }] = await Promise.all([
    import('../../pipeline/revert/index.js'),
    import('../open-pipeline.js'),
  ]);
  const { deps, actor } = await openPipeline(context, args.dryRun);
  const today = new Date().toISOString().slice(0, 10);
  const interrupt = listenForInterrupt();
  let result: RevertResult;
  try {
    result = await revertImport(deps, {
      importId: args.id,
      dryRun: args.dryRun,
      force: args.force,
      actor,
      reportDir: path.resolve(args.reportDir ?? path.join(context.config.folders.archive, today)),
      allow: args.allow,
      signal: interrupt.signal,
    });
  } catch (error) {
    if (interrupt.by === undefined || !(error instanceof UsersyncError) || error.code !== 'IMPORT_INTERRUPTED')
      throw error;
    process.stderr.write(
      `usersync: the revert of import ${args.id} was stopped (${interrupt.by}). What it committed before the stop is kept and audited (\`usersync imports list\` shows it interrupted); run the same command again to finish: what is already set back is then found unchanged.\n`,
    );
    context.exitCode = interrupt.exitCode();
    return;
  } finally {
    interrupt.dispose();
  }
  context.exitCode = result.exitCode;
  if (args.json) {
    for await (const chunk of createReadStream(result.reports.jsonPath, 'utf8'))
      await context.out.write(chunk as string);
    return;
  }
  await printSummary(context, result);
}

async function printSummary(context: CommandContext, { summary, reports }: RevertResult): Promise<void> {
  const c = summary.counts;
  const would = summary.dryRun || summary.outcome === 'held';
  const revert = summary.revert!;
  const lines = [
    `${summary.file.name}: ${summary.dryRun ? 'dry run' : summary.outcome.replace(/_/g, ' ')}${summary.importId !== null ? ` (import ${summary.importId})` : ''}`,
    `  ${c.reverted ?? 0} users ${would ? 'would be reverted' : 'reverted'}, ${c.unchanged} unchanged (already as before the import), ${c.conflicts ?? 0} conflicts${revert.force ? ' (--force)' : ''}, ${c.failed} failed`,
  ];
  if ((c.conflicts ?? 0) > 0)
    lines.push(
      '  conflicts: fields changed again after the import, left as they are (listed in the report; --force sets them back)',
    );
  lines.push(...guardLines(summary).map((line) => `  ${line}`));
  for (const warning of summary.warnings) lines.push(`  warning: ${warning}`);
  lines.push(`  reports: ${reports.xlsxPath}`, `           ${reports.jsonPath}`);
  await context.out.write(lines.join('\n') + '\n');
}
