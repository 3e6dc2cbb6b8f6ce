/**
 * A file still being written is never imported half-written (issue: a CSV copied with a pause
 * longer than watch.stableMs was claimed at 12,288 of 28,152 bytes). The claim renames the file,
 * and the writer's descriptor follows it: the daemon waits while a process holds it open for
 * writing, and a file that changed under the import is imported again whole — never blamed on HR
 * (error/), never archived with a sha256 the register does not have.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import knex from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const STABLE_MS = 300;

interface ImportRow {
  id: number | string;
  status: string;
  sha256: string;
  bytes: number | string;
  created: number | string;
  error_code: string | null;
  superseded_by: number | string | null;
}

describeEachDatabase('daemon and a file still being written', (database) => {
  let daemon: DaemonHandle;
  let fixtures: string;
  const connect = () =>
    knex(
      database().kind === 'sqlite'
        ? { client: 'better-sqlite3', connection: { filename: database().url.slice(7) }, useNullAsDefault: true }
        : { client: 'mysql2', connection: database().url },
    );
  const archived = (folder: 'archive' | 'error') => listFiles(path.join(daemon.folder(folder), today()));
  const importsOf = async (name: string) => {
    const db = connect();
    try {
      return (await db('imports')
        .where('original_name', name)
        .orderBy('id')
        .select('id', 'status', 'sha256', 'bytes', 'created', 'error_code', 'superseded_by')) as ImportRow[];
    } finally {
      await db.destroy();
    }
  };
  const countUsers = async (prefix: string) => {
    const db = connect();
    try {
      return Number((await db('users').where('username', 'like', `${prefix}%`).count({ n: '*' }))[0]?.n);
    } finally {
      await db.destroy();
    }
  };

  beforeAll(async () => {
    fixtures = fixtureDir();
    daemon = await startDaemon({
      databaseUrl: database().url,
      config: { watch: { stableMs: STABLE_MS, incompleteTimeoutMs: 3000 }, schedule: { rescan: '' } },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('imports a CSV copied in with pauses longer than watch.stableMs exactly once, whole', async () => {
    const rows = Array.from({ length: 400 }, (_, i) => [
      `Slow Person ${i}`,
      `slowcsv${i}`,
      '',
      'Slow Copies',
      `slowcsv${i}@example.com`,
      `5511${String(i).padStart(8, '0')}`,
      'Yes',
      'No',
      '',
      '',
    ]);
    const whole = readFileSync(writeCsv(path.join(fixtures, 'slow.csv'), [TEMPLATE, ...rows]));
    const target = await open(path.join(daemon.folder('inbox'), 'slow.csv'), 'w');
    // Cut mid-line, as a copy does: without the wait, the cut row would be imported or failed.
    const cuts = [0, 12_288, Math.floor(whole.length * 0.7), whole.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      await target.write(whole.subarray(cuts[i], cuts[i + 1]));
      await target.sync();
      if (i + 2 < cuts.length) await new Promise((r) => setTimeout(r, STABLE_MS * 4));
    }
    await target.close();
    await waitFor(() => archived('archive').some((f) => f.endsWith('_slow.report.xlsx')), 60_000, daemon.output);
    const imports = await importsOf('slow.csv');
    expect(imports).toHaveLength(1);
    expect(imports[0]).toMatchObject({ status: 'imported', sha256: sha256(whole), error_code: null });
    expect(Number(imports[0]!.bytes)).toBe(whole.length);
    expect(Number(imports[0]!.created)).toBe(400);
    expect(await countUsers('slowcsv')).toBe(400);
    const copy = archived('archive').find((f) => f.endsWith('_slow.csv'))!;
    expect(sha256(readFileSync(path.join(daemon.folder('archive'), today(), copy)))).toBe(sha256(whole));
    expect(archived('error')).toEqual([]);
    expect(daemon.output()).toContain('watch.open_for_writing');
  });

  it('imports a file that changed under the import again, whole: the first run is interrupted and superseded, never archived or blamed', async () => {
    const total = 30_000;
    const first = [
      TEMPLATE,
      ...Array.from({ length: total }, (_, i) => [`Grow ${i}`, `grow${i}`, '', '', '', '', '', '', '', '']),
    ];
    const file = writeCsv(path.join(fixtures, 'grow.csv'), first);
    // The last line is cut mid-address, as a writer on another machine (invisible to /proc) leaves it.
    appendFileSync(file, 'Cut Line,growcut,,,cut@exa');
    const { renameSync } = await import('node:fs');
    renameSync(file, path.join(daemon.folder('inbox'), 'grow.csv'));
    // Once rows are being written, the writer resumes: it appends to the claimed file in processing/.
    await waitFor(
      async () => {
        const n = await countUsers('grow');
        return n > 0 && n < total;
      },
      60_000,
      daemon.output,
    );
    const claimed = listFiles(daemon.folder('processing')).find((f) => f.endsWith('__grow.csv'))!;
    appendFileSync(
      path.join(daemon.folder('processing'), claimed),
      'mple.com,,,,,\r\nGrown Later,growlater,,,,,,,,\r\n',
    );
    await waitFor(() => archived('archive').some((f) => f.endsWith('_grow.report.xlsx')), 120_000, daemon.output);

    const imports = await importsOf('grow.csv');
    expect(imports.map((i) => i.status)).toEqual(['interrupted', 'imported']);
    expect(imports[0]).toMatchObject({ error_code: 'FILE_CHANGED_DURING_IMPORT' });
    expect(Number(imports[0]!.superseded_by)).toBe(Number(imports[1]!.id));
    const copy = archived('archive').filter((f) => f.endsWith('_grow.csv'));
    expect(copy).toEqual([`${imports[1]!.id}_grow.csv`]);
    const archivedBytes = readFileSync(path.join(daemon.folder('archive'), today(), copy[0]!));
    expect(imports[1]!.sha256).toBe(sha256(archivedBytes));
    expect(archivedBytes.toString('utf8')).toMatch(/Cut Line,growcut,,,cut@example\.com,,,,,\r\nGrown Later,growlater/);
    expect(await countUsers('grow')).toBe(total + 2);
    const db = connect();
    try {
      expect((await db('users').where('username', 'growcut').first())?.email).toBe('cut@example.com');
    } finally {
      await db.destroy();
    }
    expect(archived('error')).toEqual([]);
    expect(listFiles(daemon.folder('processing')).filter((f) => !f.startsWith('.'))).toEqual([]);
    expect(daemon.output()).toContain('import.file_changed');
  });
});
