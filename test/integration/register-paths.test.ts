/**
 * The register row of an import records where its file and reports end up, and is final before
 * the file appears there: read as soon as the file is in archive/ or error/, it already names those
 * paths — never processing/, where the daemon keeps the file only while importing it.
 */
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sha256Of } from '../../src/pipeline/archive.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { createTestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);
const csvRow = (fields: Parameters<typeof userRow>[0]): string[] =>
  userRow(fields).map((cell) => (cell == null ? '' : String(cell)));

interface RegisterRow {
  id: number | string;
  status: string;
  file_path: string | null;
  report_json_path: string | null;
  report_xlsx_path: string | null;
  archived_sha256: string | null;
  redacted: number | boolean;
}

describeEachDatabase('the register records the final place of a file', (database) => {
  let daemon: DaemonHandle;
  let store: Knex;
  /** Every finished import seen at a path in processing/ while the test watched the register. */
  const seenInProcessing: RegisterRow[] = [];
  let watching = true;
  let watcher: Promise<void> | undefined;

  beforeAll(async () => {
    daemon = await startDaemon({ databaseUrl: database().url });
    const url = database().url;
    const filename = url.slice('sqlite:'.length);
    const sqlite = { client: 'better-sqlite3', connection: { filename }, useNullAsDefault: true };
    store = knex(url.startsWith('sqlite:') ? sqlite : { client: 'mysql2', connection: url });
    const processing = daemon.folder('processing');
    watcher = (async () => {
      while (watching) {
        const final = ['imported', 'imported_with_errors', 'rejected'];
        const rows = (await store('imports').whereIn('status', final).select('*')) as RegisterRow[];
        for (const row of rows) {
          const paths = [row.file_path, row.report_json_path, row.report_xlsx_path];
          if (paths.some((p) => p?.startsWith(processing))) seenInProcessing.push(row);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
  });
  afterAll(async () => {
    watching = false;
    await watcher;
    await daemon?.stop();
    await store?.destroy();
  });

  /** Drops `name` in the inbox and reads its register row the moment the file itself reaches `folder`. */
  async function importAndReadRow(name: string, rows: string[][], folder: 'archive' | 'error') {
    const staged = writeCsv(path.join(fixtureDir(), name), [TEMPLATE, ...rows]);
    renameSync(staged, path.join(daemon.folder('inbox'), name));
    const dated = path.join(daemon.folder(folder), today());
    const arrived = () => listFiles(dated).find((f) => f.endsWith(`_${name}`));
    const archivedName = (await waitFor(arrived, 30_000, daemon.output))!;
    const id = Number(archivedName.split('_')[0]);
    const row = (await store('imports').where('id', id).first()) as RegisterRow;
    return { row, dated, filePath: path.join(dated, archivedName), stem: `${id}_${name.replace(/\.csv$/, '')}` };
  }

  it('names the archived file and reports of an imported file', async () => {
    const rows = [csvRow({ name: 'Pla Ced', username: 'placed' })];
    const { row, filePath, dated, stem } = await importAndReadRow('placed.csv', rows, 'archive');
    expect(row).toMatchObject({
      status: 'imported',
      file_path: filePath,
      report_json_path: path.join(dated, `${stem}.report.json`),
      report_xlsx_path: path.join(dated, `${stem}.report.xlsx`),
    });
    await waitFor(() => existsSync(row.report_xlsx_path!), 10_000, daemon.output);
    expect(existsSync(row.report_json_path!)).toBe(true);
  });

  it('names error/ for a file with failed rows', async () => {
    const rows = [
      csvRow({ name: 'Good One', username: 'goodone' }),
      csvRow({ name: 'Bad Mail', username: 'badmail', email: 'not-an-address' }),
    ];
    const { row, filePath, dated, stem } = await importAndReadRow('partly.csv', rows, 'error');
    expect(row).toMatchObject({
      status: 'imported_with_errors',
      file_path: filePath,
      report_json_path: path.join(dated, `${stem}.report.json`),
      report_xlsx_path: path.join(dated, `${stem}.report.xlsx`),
    });
  });

  it('records the redacted copy of a file that carried passwords, with its sha256', async () => {
    const rows = [csvRow({ name: 'Pass Word', username: 'password1', password: 'Pw-register-7f3a9c' })];
    const { row, filePath } = await importAndReadRow('secret.csv', rows, 'archive');
    expect(row).toMatchObject({ status: 'imported', file_path: filePath });
    expect(Boolean(Number(row.redacted))).toBe(true);
    expect(row.archived_sha256).toBe(await sha256Of(filePath));
    expect(listFiles(daemon.folder('processing')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('never showed a finished import at a path in processing/', () => {
    expect(seenInProcessing).toEqual([]);
  });
});

describeEachDatabase('the register of a command-line import', (database) => {
  let pipeline: Awaited<ReturnType<typeof createTestPipeline>>;
  beforeAll(async () => {
    pipeline = await createTestPipeline(database().url);
  });
  afterAll(async () => pipeline?.close());

  it('names the file where it is and the reports written beside it', async () => {
    const file = writeCsv(path.join(pipeline.dir, 'cli.csv'), [TEMPLATE, csvRow({ name: 'Cee Ell', username: 'cli' })]);
    const result = await pipeline.run(file);
    const row = (await pipeline.db.knex('imports').where('id', result.summary.importId!).first()) as RegisterRow;
    expect(row).toMatchObject({
      status: 'imported',
      file_path: file,
      report_json_path: result.reports.jsonPath,
      report_xlsx_path: result.reports.xlsxPath,
    });
    expect(path.dirname(result.reports.jsonPath)).toBe(pipeline.dir);
  });
});
