import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, snapshot, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, userRow, writeCsv, writeXlsx } from '../fixtures/build.js';

const SECRETS = ['Plain-Text-Secret-1', 'Another Secret 22', 'create-only-secret-3'];

/** Every file below `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describeEachDatabase('passwords and atomic imports', (database) => {
  let pipe: TestPipeline;
  let dir: string;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url);
    dir = fixtureDir();
  });
  afterAll(async () => pipe?.close());

  const stored = async (username: string) =>
    (await pipe.db.knex('users').where('username', username).first()) as
      { password_hash: string | null; password_updated_at: string | null } | undefined;

  it('stores only an argon2id hash, and a row with the same password is unchanged', async () => {
    const file = await writeXlsx(path.join(dir, 'with-passwords.xlsx'), [
      TEMPLATE,
      userRow({ name: 'Pat', username: 'pat', password: SECRETS[0] }),
      userRow({ name: 'Quinn', username: 'quinn', password: SECRETS[1] }),
    ]);
    const first = pipe.report(await pipe.run(file));
    expect(first.rows.map((r) => r.changes)).toEqual([
      expect.arrayContaining(['password']),
      expect.arrayContaining(['password']),
    ]);
    const hash = (await stored('pat'))?.password_hash;
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
    const again = pipe.report(await pipe.run(file));
    expect(again.rows.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
    expect((await stored('pat'))?.password_hash).toBe(hash);
  });

  it('changes a password that differs, auditing it only as changed', async () => {
    const before = await stored('pat');
    const file = writeCsv(path.join(dir, 'new-password.csv'), [
      TEMPLATE,
      ['', 'pat', SECRETS[1] as string, '', '', '', '', '', '', ''],
    ]);
    const report = pipe.report(await pipe.run(file));
    expect(report.rows).toEqual([{ row: 2, username: 'pat', status: 'updated', changes: ['password'] }]);
    const after = await stored('pat');
    expect(after?.password_hash).not.toBe(before?.password_hash);
    expect(after?.password_updated_at).not.toBe(before?.password_updated_at);
    const event = await pipe.db
      .knex('audit_events')
      .where({ username: 'pat', action: 'user.updated' })
      .orderBy('id', 'desc')
      .first();
    expect(JSON.parse(event.changes as string)).toEqual({ password: { changed: true } });
  });

  it('never writes a password anywhere: reports, logs, audit log, temp files or the database', async () => {
    const inputs = new Set(['with-passwords.xlsx', 'new-password.csv', 'create-only.csv']); // the plaintext sources themselves
    const outputs = [...filesUnder(dir), ...filesUnder(pipe.dir)].filter((file) => !inputs.has(path.basename(file)));
    const texts = outputs.map((file) => readFileSync(file).toString('latin1'));
    // xlsx reports are zips: read their cells too.
    const ExcelJS = (await import('exceljs')).default;
    for (const file of outputs.filter((f) => /\.report( \(\d+\))?\.xlsx$/.test(f))) {
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.readFile(file);
      workbook.eachSheet((sheet) => sheet.eachRow((row) => texts.push(JSON.stringify(row.values))));
    }
    for (const table of ['users', 'audit_events', 'imports'])
      texts.push(JSON.stringify(await pipe.db.knex(table).select('*')));
    expect(outputs.filter((f) => /\.report( \(\d+\))?\.json$/.test(f))).toHaveLength(3);
    for (const secret of SECRETS) for (const text of texts) expect(text).not.toContain(secret);
  });

  it('with passwords "create-only" sets passwords of new users and never of existing ones', async () => {
    const strict = await createTestPipeline(database().url, { import: { passwords: 'create-only' } });
    try {
      const hash = (await stored('pat'))?.password_hash;
      const file = writeCsv(path.join(dir, 'create-only.csv'), [
        TEMPLATE,
        ['', 'pat', SECRETS[2] as string, '', '', '', '', '', '', ''],
        ['Rita', 'rita', SECRETS[2] as string, '', '', '', '', '', '', ''],
      ]);
      const report = strict.report(await strict.run(file));
      expect(report.rows.map((r) => [r.username, r.status])).toEqual([
        ['pat', 'unchanged'],
        ['rita', 'created'],
      ]);
      expect((await stored('pat'))?.password_hash).toBe(hash);
      expect((await stored('rita'))?.password_hash).toMatch(/^\$argon2id\$/);
    } finally {
      await strict.close();
    }
  });

  it('with import.atomic applies nothing when any row fails, and everything when none does', async () => {
    const atomic = await createTestPipeline(database().url, { import: { atomic: true } });
    try {
      const before = await snapshot(atomic.db);
      const bad = writeCsv(path.join(dir, 'atomic-bad.csv'), [
        TEMPLATE,
        ['Ok One', 'atomic.one', '', 'Atomic Dept', '', '', '', '', '', ''],
        ['', 'pat', '', '', '', '', 'Perhaps', '', '', ''],
      ]);
      const rejected = await atomic.run(bad);
      expect(rejected.exitCode).toBe(2);
      const report = atomic.report(rejected);
      expect(report).toMatchObject({
        outcome: 'rejected',
        error: { code: 'FILE_ROWS_FAILED_ATOMIC' },
        counts: { rows: 2, created: 0, updated: 0, failed: 1 },
      });
      expect(report.rows.map((r) => r.status)).toEqual(['would-create', 'failed']);
      expect(await snapshot(atomic.db)).toEqual(before);

      const good = writeCsv(path.join(dir, 'atomic-good.csv'), [
        TEMPLATE,
        ['Ok One', 'atomic.one', '', 'Atomic Dept', '', '', '', '', '', ''],
        ['Ok Two', 'atomic.two', '', '', '', '', '', '', '', ''],
      ]);
      const applied = atomic.report(await atomic.run(good));
      expect(applied).toMatchObject({ outcome: 'imported', counts: { created: 2 } });
      expect(await atomic.db.knex('users').whereIn('username', ['atomic.one', 'atomic.two']).count({ n: '*' })).toEqual(
        [{ n: database().kind === 'mysql' ? '2' : 2 }],
      );
    } finally {
      await atomic.close();
    }
  });
});
