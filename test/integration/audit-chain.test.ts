import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GENESIS_HASH, eventHash } from '../../src/domain/audit-chain.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { connectTo, describeEachDatabase } from '../helpers/databases.js';
import { TEMPLATE, writeCsv } from '../fixtures/build.js';

interface ChainRow {
  id: number;
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
  at: string;
  import_id: number | null;
  row: number | null;
  username: string | null;
  action: string;
  changes: string | null;
  actor: string | null;
}

/** Every event in chain order, each checked against the one before and its own fields (independently of `audit verify`). */
async function expectIntactChain(knex: Knex): Promise<ChainRow[]> {
  const rows = (await knex('audit_events').orderBy('seq')) as ChainRow[];
  expect(rows.filter((r) => r.seq === null)).toEqual([]);
  let prev = GENESIS_HASH;
  rows.forEach((r, i) => {
    expect(Number(r.seq), `event id ${r.id}`).toBe(i + 1);
    expect(r.prev_hash, `prev_hash of seq ${r.seq}`).toBe(prev);
    const fields = [
      r.at,
      r.import_id === null ? null : Number(r.import_id),
      r.row === null ? null : Number(r.row),
      r.username,
      r.action,
      r.changes,
      r.actor,
    ] as const;
    expect(r.hash, `hash of seq ${r.seq}`).toBe(eventHash(i + 1, prev, fields));
    prev = r.hash as string;
  });
  const head = (await knex('audit_chain').where('id', 1).first()) as { seq: number; hash: string };
  expect({ seq: Number(head.seq), hash: head.hash }).toEqual({ seq: rows.length, hash: prev });
  return rows;
}

const people = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => [
    `Person ${prefix}${i}`,
    `${prefix}${i}`,
    '',
    `Dept ${prefix}${i % 7}`,
    `${prefix}${i}@example.com`,
    '',
    '',
    '',
    'Operator',
    i % 2 === 0 ? 'Sales' : 'IT',
  ]);

describeEachDatabase('the audit chain: one chain for every writer, on every line', (database) => {
  let knex: Knex;
  const workdirs: string[] = [];
  const cli = (cwd: string, ...args: string[]) =>
    runUsersync(args, { cwd, env: { USERSYNC_DATABASE_URL: database().url } });

  beforeAll(() => {
    for (let i = 0; i < 2; i++) {
      const cwd = makeWorkdir();
      mkdirSync(path.join(cwd, 'config'));
      writeFileSync(
        path.join(cwd, 'config', 'local.json'),
        JSON.stringify({ import: { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } } }),
      );
      workdirs.push(cwd);
    }
    knex = connectTo(database().kind, database().url);
  });
  afterAll(async () => {
    await knex.destroy();
  });

  it('stays gap-free and unforked while two processes import and commands change users at the same moment', async () => {
    const [a, b] = workdirs as [string, string];
    const seed = await cli(a, 'import', writeCsv(path.join(a, 'seed.csv'), [TEMPLATE, ...people('seed', 3)]));
    expect(seed.code, seed.stderr).toBe(0);
    // Files of several transactions' worth of batches, from two working folders (two daemon locks)
    // at once, while single-event commands (the command line's own transactions) cut in.
    const fileA = writeCsv(path.join(a, 'a.csv'), [TEMPLATE, ...people('a', 1500)]);
    const fileB = writeCsv(path.join(b, 'b.csv'), [TEMPLATE, ...people('b', 1200)]);
    const results = await Promise.all([
      cli(a, 'import', fileA),
      cli(b, 'import', fileB),
      ...[0, 1, 2].map((i) => cli(i % 2 === 0 ? a : b, 'users', 'deactivate', `seed${i}`)),
      cli(b, 'roles', 'add', 'Chained'),
    ]);
    expect(results.map((r) => [r.code, r.stderr])).toEqual(results.map(() => [0, '']));
    const rows = await expectIntactChain(knex);
    expect(rows.filter((r) => r.action === 'user.created')).toHaveLength(3 + 1500 + 1200);
    expect(rows.filter((r) => r.action === 'user.updated' && r.changes?.includes('"active"'))).toHaveLength(3);

    // Every event is a line of one of the two audit logs, with the seq and hash of its row.
    const lines = workdirs.flatMap((cwd) =>
      readFileSync(path.join(cwd, 'logs', 'audit.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { seq: number; hash: string; action: string; username: string | null }),
    );
    const bySeq = new Map(lines.map((line) => [line.seq, line]));
    expect(bySeq.size).toBe(lines.length);
    expect(lines.length).toBe(rows.length);
    for (const r of rows)
      expect(bySeq.get(Number(r.seq)), `line of seq ${r.seq}`).toMatchObject({
        hash: r.hash,
        action: r.action,
        username: r.username,
      });
  });

  it('puts the last event of its import in every report as auditHead', async () => {
    const [a] = workdirs as [string];
    const result = await cli(
      a,
      'import',
      writeCsv(path.join(a, 'head.csv'), [TEMPLATE, ...people('head', 4)]),
      '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { importId: number; auditHead: { seq: number; hash: string } };
    const last = (await knex('audit_events')
      .where('import_id', report.importId)
      .whereNot('action', 'import.finished')
      .orderBy('seq', 'desc')
      .first('seq', 'hash')) as { seq: number; hash: string };
    expect(report.auditHead).toEqual({ seq: Number(last.seq), hash: last.hash });
    await expectIntactChain(knex);
  });
});
