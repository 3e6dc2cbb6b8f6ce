/**
 * The import register: `imports list`, `imports show <id>`, `imports recover <id> [--out F]`,
 * `imports revert <id>` (revert.ts). Recover gives back the archived file byte for byte, checked
 * against the sha256 the register holds (the original's, or the redacted copy's — it says which).
 */
import { constants } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { withDatabaseErrors } from '../../db/errors.js';
import type { Database } from '../../db/knex.js';
import { findReverts, getImport, listImports, type ImportRecord } from '../../db/repositories/imports.js';
import { fail } from '../../errors.js';
import { sha256Of } from '../../pipeline/archive.js';
import type { CommandModule } from '../command-module.js';
import { addRevertCommand } from './revert.js';

function describeImport(r: ImportRecord, revertedBy: readonly ImportRecord[]): string {
  const lines: Array<[string, string]> = [
    ['Import', String(r.id)],
    ['File', r.originalName],
    ['Feed', r.feed ?? '(not recorded)'],
    ['Status', r.status],
    ['Source', `${r.source} on ${r.host}`],
    ['By', r.actor ?? '(not recorded)'],
    ['sha256', r.sha256],
    ['Bytes', String(r.bytes)],
    [
      'Rows',
      `${r.counts.rows}: ${r.counts.created} created, ${r.counts.updated} updated, ${r.counts.unchanged} unchanged, ${r.counts.failed} failed`,
    ],
    // Users a mirror feed left out are not rows of the file: their own line (SPEC §8).
    ['Deactivated', deactivatedInWords(r)],
    ['Started', r.startedAt],
    ['Finished', r.finishedAt ?? ''],
    ['File now', r.filePath ?? ''],
    [
      'Archived copy',
      r.redacted
        ? `redacted rewrite (Password column emptied), sha256 ${r.archivedSha256 ?? '?'}`
        : 'the original bytes',
    ],
    ['Report', r.reportXlsxPath ?? ''],
    ['Report JSON', r.reportJsonPath ?? ''],
  ];
  if (r.error) lines.push(['Error', `${r.error.code}: ${r.error.message}`]);
  if (r.supersededBy !== null) lines.push(['Re-run as', `import ${r.supersededBy}`]);
  for (const trip of r.guards?.tripped ?? []) {
    const letThrough = r.guards?.allowed.includes(trip.guard) ? ' (let through)' : '';
    lines.push(['Guard', `${trip.guard}: ${trip.planned} planned, limit ${trip.limit}${letThrough}`]);
  }
  if (r.decision) {
    const { decision, by, at, note } = r.decision;
    lines.push(['Decision', `${decision} by ${by ?? '?'} at ${at ?? '?'}${note ? ` — ${note}` : ''}`]);
  }
  if (r.holdId !== null) lines.push(['Applies hold', `import ${r.holdId}`]);
  if (r.resolvedBy !== null) lines.push(['Resolved by', `import ${r.resolvedBy}`]);
  // SPEC §10: the register links a revert and the import it undoes both ways.
  if (r.revertsImportId !== null) {
    const c = r.counts;
    lines.push(['Reverts', `import ${r.revertsImportId}`]);
    lines.push(['Reverted', `${c.reverted ?? 0} users set back, ${c.conflicts ?? 0} conflicts left alone`]);
  }
  for (const revert of revertedBy) lines.push(['Reverted by', `import ${revert.id} (${revert.status})`]);
  return lines.map(([label, value]) => `${label.padEnd(14)} ${value}`).join('\n') + '\n';
}

/** "3 (left out of the file by mirror feed workday)"; a dry run's or held import's "would be". */
function deactivatedInWords(r: ImportRecord): string {
  const n = r.counts.deactivated;
  if (n === 0) return '0';
  const would = r.dryRun || r.status === 'held' ? 'would be ' : '';
  return `${n} (${would}left out of the file by mirror feed ${r.feed ?? '(not recorded)'})`;
}

export const importsCommand: CommandModule = (cli, run) =>
  cli.command('imports', 'The import register', (y) =>
    addRevertCommand(
      y
        .command(
          'list',
          'List imports, newest first',
          (c) =>
            c
              .option('json', { type: 'boolean', default: false })
              .option('limit', { type: 'number', default: 50, describe: 'How many (0 = all)' }),
          (args) =>
            run(args, { readOnly: true }, async ({ database, out }) => {
              const db = await database();
              const records = await withDatabaseErrors(db.location, () =>
                listImports(db.knex, { limit: args.limit || undefined }),
              );
              if (args.json) return out.json(records);
              if (records.length === 0) return out.write(`No imports yet in ${db.description}.\n`);
              await out.table(
                [
                  'ID',
                  'STARTED',
                  'FILE',
                  'FEED',
                  'SOURCE',
                  'STATUS',
                  'ROWS',
                  'CREATED',
                  'UPDATED',
                  'UNCHANGED',
                  'FAILED',
                  'DEACTIVATED',
                ],
                records.map((r) => [
                  r.id,
                  r.startedAt,
                  r.originalName,
                  r.feed ?? '',
                  r.source,
                  r.status,
                  r.counts.rows,
                  r.counts.created,
                  r.counts.updated,
                  r.counts.unchanged,
                  r.counts.failed,
                  r.counts.deactivated,
                ]),
              );
            }),
        )
        .command(
          'show <id>',
          'Show one import',
          (c) =>
            c
              .positional('id', { type: 'number', demandOption: true })
              .option('json', { type: 'boolean', default: false }),
          (args) =>
            run(args, { readOnly: true }, async ({ database, out }) => {
              const db = await database();
              const record = await importOrFail(db, Number(args.id));
              const reverts = await withDatabaseErrors(db.location, () => findReverts(db.knex, record.id));
              if (args.json) return out.json({ ...record, revertedBy: reverts.map((r) => r.id) });
              await out.write(describeImport(record, reverts));
            }),
        )
        .command(
          'recover <id>',
          'Copy the archived file of an import back out (sha256 checked)',
          (c) =>
            c.positional('id', { type: 'number', demandOption: true }).option('out', {
              type: 'string',
              describe: 'Where to write it (default: its original name in the working directory)',
            }),
          (args) =>
            run(args, { readOnly: true }, async ({ database, out }) => {
              const db = await database();
              const record = await importOrFail(db, Number(args.id));
              if (!record.filePath || record.status === 'running') {
                throw fail('FILE_NOT_FOUND', {
                  message: `Import ${record.id} (${record.status}) has no archived file to recover.`,
                });
              }
              const expected = record.redacted ? record.archivedSha256 : record.sha256;
              const actual = await sha256Of(record.filePath).catch((cause: unknown) => {
                throw fail('FS_IO_FAILED', { message: `The archived file ${record.filePath} cannot be read.`, cause });
              });
              if (actual !== expected) {
                throw fail('FS_IO_FAILED', {
                  message: `The archived file ${record.filePath} does not match the register (sha256 ${actual}, expected ${expected}); it was changed after archiving.`,
                });
              }
              const target = path.resolve(args.out ?? record.originalName);
              await copyFile(record.filePath, target, constants.COPYFILE_EXCL).catch((cause: unknown) => {
                throw fail('FS_IO_FAILED', {
                  message: `Cannot write ${target}${(cause as NodeJS.ErrnoException).code === 'EEXIST' ? ': it already exists (choose another --out)' : ''}.`,
                  cause,
                });
              });
              await out.write(`wrote ${target} (sha256 ${actual} verified)\n`);
              if (record.redacted)
                await out.write(
                  'note: this is the redacted copy — its Password column was emptied before archiving; the original bytes were not kept.\n',
                );
            }),
        ),
      run,
    ).demandCommand(1, 'Name an imports command: list, show, recover or revert.'),
  );

/** The import with this id, or IMPORT_NOT_FOUND naming the database searched. */
async function importOrFail(db: Database, id: number): Promise<ImportRecord> {
  const record = await withDatabaseErrors(db.location, () => getImport(db.knex, id));
  if (!record) throw fail('IMPORT_NOT_FOUND', { message: `No import has the id ${id} in ${db.description}.` });
  return record;
}
