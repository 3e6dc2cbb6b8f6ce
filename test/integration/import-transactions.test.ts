/**
 * Batches are written several to a transaction (apply/grouped-transaction.ts). While one is open
 * it holds a connection, so a store with none to spare — SQLite, or a MySQL pool of one — runs
 * the next batches' look-ups inside it: asking the pool would wait for a commit that waits for
 * the look-up. A short acquire timeout turns such a deadlock into a failure instead of a hang.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ROWS_PER_TRANSACTION } from '../../src/pipeline/apply/grouped-transaction.js';
import { describeEachDatabase } from '../helpers/databases.js';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

describeEachDatabase('import transactions', (database) => {
  let pipe: TestPipeline;
  beforeAll(async () => {
    pipe = await createTestPipeline(database().url, { database: { poolMax: 1, acquireTimeoutMs: 3000 } });
  });
  afterAll(async () => pipe?.close());

  const rows = Math.round(ROWS_PER_TRANSACTION * 2.5); // two full transactions and a part
  const file = () => {
    const lines = [TEMPLATE.map(String)];
    for (let i = 1; i <= rows; i++)
      lines.push([
        `Person ${i}`,
        `user${i}`,
        '',
        `Dept ${i % 7}`,
        `user${i}@example.com`,
        '',
        'Yes',
        'No',
        'Viewer',
        i % 2 ? 'IT' : 'Sales',
      ]);
    return writeCsv(path.join(fixtureDir(), 'many.csv'), lines);
  };

  it('imports more rows than one transaction holds with a single connection, every row once and in order', async () => {
    const csv = file();
    const first = await pipe.run(csv);
    const report = pipe.report(first);
    expect(report.counts).toEqual({ rows, created: rows, updated: 0, unchanged: 0, failed: 0, deactivated: 0 });
    expect(report.rows.map((r) => r.username)).toEqual(Array.from({ length: rows }, (_, i) => `user${i + 1}`));
    expect(Number((await pipe.db.knex('users').count({ n: '*' }))[0]?.n)).toBe(rows);
    const created = await pipe.db
      .knex('audit_events')
      .where({ import_id: report.importId as number, action: 'user.created' })
      .count({ n: '*' });
    expect(Number((created[0] as { n: number | string }).n)).toBe(rows);
    expect(Number((await pipe.db.knex('user_roles').count({ n: '*' }))[0]?.n)).toBe(rows);

    const again = pipe.report(await pipe.run(csv));
    expect(again.counts).toEqual({ rows, created: 0, updated: 0, unchanged: rows, failed: 0, deactivated: 0 });
  }, 120_000);
});
