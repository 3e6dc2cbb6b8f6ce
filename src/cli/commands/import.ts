/**
 * `usersync import <file..>`: one-shot import through the same pipeline the daemon drives.
 * Reports go beside each file (or to --report-dir); a progress line with rows/s on a terminal.
 * Exit code: the worst over the files (0 all applied, 1 rows failed, 2 rejected, 4 held for
 * approval with nothing written; 3 is thrown).
 */
import { createReadStream } from 'node:fs';
import { lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { requirePackage } from '../../require-package.js';
import { FileError, UsersyncError, fail } from '../../errors.js';
import { feedNamed, feedOfFile } from '../../pipeline/feeds.js';
import type { ProcessResult } from '../../pipeline/process-file.js';
import type { SpreadsheetReader } from '../../pipeline/read/index.js';
import { GUARD_NAMES, type GuardName } from '../../domain/guards.js';
import type { CommandContext } from '../context.js';
import { allowedGuards, guardLines } from '../guard-options.js';
import { listenForInterrupt, type Interrupt } from '../interrupt.js';
import { discardReadAhead, takeReadAhead } from '../read-ahead.js';
import type { Output } from '../output.js';
import type { CommandModule } from '../command-module.js';

const cliProgress: typeof import('cli-progress') = requirePackage('cli-progress');

interface ImportArgs {
  files: string[];
  dryRun: boolean;
  json: boolean;
  reportDir?: string | undefined;
  followSymlinks: boolean;
  /** The feed named with --feed; each file's own (by its name, as the daemon does) when not given. */
  feed?: string | undefined;
  /** `--allow GUARD[,GUARD..]` or `--allow all` (SPEC §9): guards applied despite their limits. */
  allow?: ReadonlySet<GuardName> | undefined;
}

export const importCommand: CommandModule = (cli, run) =>
  cli.command(
    'import <files..>',
    'Import user lists (.xlsx, .xlsm, .csv) once, through the same pipeline as the daemon',
    (y) =>
      y
        .positional('files', { type: 'string', array: true, demandOption: true, describe: 'Files to import, in order' })
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'Report would-create / would-update and write nothing',
        })
        .option('json', {
          type: 'boolean',
          default: false,
          describe: 'Print the report (an array for several files) as JSON',
        })
        .option('report-dir', { type: 'string', describe: 'Write the reports here instead of beside each file' })
        .option('follow-symlinks', {
          type: 'boolean',
          default: false,
          describe: 'Import a file named through a symbolic link (refused otherwise)',
        })
        .option('allow', {
          type: 'string',
          describe: `Apply despite these tripped guards (audited): ${GUARD_NAMES.join(', ')}, or all`,
        })
        .option('feed', {
          type: 'string',
          describe: 'The feed the files belong to (config "feeds"); default: the feed whose match fits each name',
        }),
    (args) => {
      const options: ImportArgs = {
        files: (args.files ?? []).map(String),
        dryRun: Boolean(args.dryRun),
        json: Boolean(args.json),
        reportDir: args.reportDir,
        followSymlinks: Boolean(args.followSymlinks),
        feed: args.feed,
        allow: args.allow === undefined ? undefined : allowedGuards(String(args.allow)),
      };
      // With --feed nothing is read ahead: an unknown feed must stop the command before any file is read.
      const firstReader = takeReadAhead(
        options.feed === undefined ? options.files[0] : undefined,
        args.config as string | undefined,
      );
      let handedOver = false;
      const takeFirstReader = () => {
        handedOver = true;
        return firstReader;
      };
      return run(args, {}, (context) => importFiles(context, options, takeFirstReader)).finally(() => {
        // Read ahead but never handed to processFile (the database or the logs could not be
        // opened): its worker, waiting for the import to take its rows, would keep the process alive.
        if (!handedOver) discardReadAhead(firstReader);
      });
    },
  );

async function importFiles(
  context: CommandContext,
  args: ImportArgs,
  takeFirstReader: () => Promise<SpreadsheetReader | undefined> | undefined,
): Promise<void> {
  // An unknown --feed is a usage error (exit 2) before the database opens or any file is imported;
  // a known one is given the spelling the config gives it.
  if (args.feed !== undefined) args = { ...args, feed: feedNamed(context.config, args.feed) };
  // Loaded here, once the first file's reader is on its way (cli/read-ahead.ts).
  const [{ processFile }, { openPipeline }] = await Promise.all([
    import('../../pipeline/process-file.js'),
    import('../open-pipeline.js'),
  ]);
  const { deps, actor } = await openPipeline(context, args.dryRun);
  const interrupt = listenForInterrupt();
  try {
    context.exitCode = await importEach(context, args, takeFirstReader, { processFile, deps, interrupt, actor });
  } finally {
    interrupt.dispose();
  }
}

type Importer = {
  processFile: typeof import('../../pipeline/process-file.js').processFile;
  deps: Parameters<typeof import('../../pipeline/process-file.js').processFile>[0];
  interrupt: Interrupt;
  actor: string;
};

/** Imports each file in turn; resolves to the exit code (SPEC §3, or 128 + the signal's number when interrupted). */
async function importEach(
  context: CommandContext,
  args: ImportArgs,
  takeFirstReader: () => Promise<SpreadsheetReader | undefined> | undefined,
  { processFile, deps, interrupt, actor }: Importer,
): Promise<number> {
  const results: Array<ProcessResult | { missing: UsersyncError; file: string }> = [];
  let worst = 0;
  for (const [index, file] of args.files.entries()) {
    if (interrupt.by !== undefined) return interrupt.exitCode(); // stopped between two files
    const filePath = path.resolve(file);
    const progress = !args.json && process.stderr.isTTY ? startProgress(path.basename(file)) : undefined;
    try {
      await checkEntry(filePath, args.followSymlinks);
      const reader = index === 0 ? takeFirstReader() : undefined;
      const result = await processFile(deps, {
        filePath,
        originalName: path.basename(filePath),
        source: 'cli',
        actor,
        dryRun: args.dryRun,
        reportDir: args.reportDir ? path.resolve(args.reportDir) : path.dirname(filePath),
        onProgress: progress?.update,
        signal: interrupt.signal,
        feed: args.feed ?? feedOfFile(context.config, path.basename(filePath)),
        ...(args.allow ? { allow: args.allow } : {}),
        ...(reader ? { reader } : {}),
      });
      results.push(result);
      worst = Math.max(worst, result.exitCode);
    } catch (error) {
      if (interrupt.by !== undefined && error instanceof UsersyncError && error.code === 'IMPORT_INTERRUPTED') {
        progress?.stop();
        process.stderr.write(
          `usersync: the import of ${path.basename(file)} was stopped (${interrupt.by}). The rows committed before the stop are kept and counted in \`usersync imports list\`; run the same command again to finish: rows already imported are then found unchanged.\n`,
        );
        return interrupt.exitCode();
      }
      // A file that cannot even be opened has no report; say so and go on with the others.
      if (!(error instanceof FileError)) throw error;
      results.push({ missing: error, file });
      worst = Math.max(worst, 2);
    } finally {
      progress?.stop();
    }
    if (!args.json) await printSummary(context.out, results[results.length - 1]!);
  }
  if (args.json) await printJson(context.out, results);
  return worst;
}

/**
 * A symbolic link is imported only with --follow-symlinks (whoever can write where it points could
 * otherwise feed the directory); a FIFO, device or socket never is (opening a FIFO blocks).
 * A file with other hard links is fine here: the operator named it.
 */
async function checkEntry(filePath: string, followSymlinks: boolean): Promise<void> {
  const entry = await lstat(filePath).catch(() => undefined);
  if (!entry) return; // processFile says that it does not exist
  if (entry.isSymbolicLink()) {
    const target = await readlink(filePath).catch(() => '?');
    const link = `${filePath} is a symbolic link to ${target}`;
    if (!followSymlinks)
      throw fail('FILE_SYMLINK', { message: `${link}; usersync imports a link only with --follow-symlinks.` });
    const resolved = await stat(filePath).catch(() => undefined);
    if (resolved && !resolved.isFile())
      throw fail('FILE_NOT_FOUND', { message: `${link}, which is not a regular file.` });
  } else if (!entry.isFile() && !entry.isDirectory()) {
    const what = entry.isFIFO() ? 'a FIFO' : entry.isSocket() ? 'a socket' : 'a device';
    throw fail('FILE_NOT_FOUND', { message: `${filePath} is not a regular file (${what}).` });
  }
}

function startProgress(name: string) {
  const bar = new cliProgress.SingleBar(
    {
      format: `${name} | {value} rows | {speed} rows/s`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  bar.start(0, 0, { speed: 0 });
  return {
    update: (rows: number) =>
      bar.update(rows, { speed: Math.round(rows / Math.max(0.001, (Date.now() - started) / 1000)) }),
    stop: () => bar.stop(),
  };
}

async function printSummary(
  out: Output,
  result: ProcessResult | { missing: UsersyncError; file: string },
): Promise<void> {
  if ('missing' in result) {
    await out.write(`${result.file}: not imported — ${result.missing.message} ${result.missing.help}\n`);
    return;
  }
  const { summary, reports } = result;
  const c = summary.counts;
  const verb = summary.dryRun ? 'dry run' : summary.outcome.replace(/_/g, ' ');
  const wouldBe = summary.dryRun || summary.outcome === 'held';
  const created = wouldBe ? 'would be created' : 'created';
  const updated = wouldBe ? 'would be updated' : 'updated';
  await out.write(`${summary.file.name}: ${verb}${summary.importId !== null ? ` (import ${summary.importId})` : ''}\n`);
  if (summary.error) await out.write(`  rejected: ${summary.error.message}\n`);
  else
    await out.write(
      `  ${c.rows} rows: ${c.created} ${created}, ${c.updated} ${updated}, ${c.unchanged} unchanged, ${c.failed} failed${c.deactivated > 0 ? `, ${c.deactivated} ${wouldBe ? 'would be deactivated' : 'deactivated'}` : ''}\n`,
    );
  for (const line of guardLines(summary)) await out.write(`  ${line}\n`);
  for (const warning of summary.warnings) await out.write(`  warning: ${warning}\n`);
  await out.write(`  reports: ${reports.xlsxPath}\n           ${reports.jsonPath}\n`);
}

/** The report files are the JSON; stream them rather than rebuild a 1,000,000-row document. */
async function printJson(
  out: Output,
  results: Array<ProcessResult | { missing: UsersyncError; file: string }>,
): Promise<void> {
  const several = results.length !== 1;
  if (several) await out.write('[\n');
  for (const [index, result] of results.entries()) {
    if (index > 0) await out.write(',\n');
    if ('missing' in result) {
      await out.write(
        JSON.stringify({
          importId: null,
          file: { name: path.basename(result.file), sha256: null, bytes: null },
          dryRun: false,
          outcome: 'rejected',
          counts: { rows: 0, created: 0, updated: 0, unchanged: 0, failed: 0, deactivated: 0 },
          warnings: [],
          error: { code: result.missing.code, message: `${result.missing.message} ${result.missing.help}` },
          rows: [],
        }),
      );
      continue;
    }
    for await (const chunk of createReadStream(result.reports.jsonPath, 'utf8'))
      await out.write((chunk as string).replace(/\n$/, ''));
  }
  await out.write(several ? '\n]\n' : '\n');
}
