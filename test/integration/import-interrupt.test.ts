/**
 * Ctrl-C during `usersync import`: the import stops after the batch it is writing, keeps what it
 * committed, closes its register entry as interrupted with those counts, and exits 130; the same
 * command again finishes the file, finding the committed rows unchanged.
 */
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync, spawnUsersync } from '../helpers/cli.js';
import { writeLargeWorkbook } from '../fixtures/workbooks.js';

const ROWS = 60_000;

describeEachDatabase('import interrupted by Ctrl-C', (database) => {
  let cwd: string;
  let store: Knex;
  const env = () => ({ USERSYNC_DATABASE_URL: database().url });
  const users = async () => Number((await store('users').count({ n: '*' }))[0]!.n);
  /** The import that finished the file: the one the revert test undoes. */
  let finishing: number;

  beforeAll(async () => {
    cwd = makeWorkdir();
    expect((await runUsersync(['roles', 'add', 'Viewer'], { cwd, env: env() })).code).toBe(0);
    const url = database().url;
    store = url.startsWith('sqlite:')
      ? knex({
          client: 'better-sqlite3',
          connection: { filename: url.slice('sqlite:'.length) },
          useNullAsDefault: true,
        })
      : knex({ client: 'mysql2', connection: url });
  });
  afterAll(async () => store?.destroy());

  it('keeps and registers what it committed, exits 130, and the same command then finishes the file', async () => {
    const file = await writeLargeWorkbook(path.join(cwd, 'large.xlsx'), ROWS, (i) => [
      `User ${i}`,
      `user${i}`,
      '',
      'Sales',
      `user${i}@example.com`,
      '',
      'Yes',
      'No',
      'Viewer',
      '',
    ]);
    const child = spawnUsersync(['import', file], { cwd, env: env() });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Once a transaction has committed, and long before the last.
    const deadline = Date.now() + 50_000;
    while ((await users()) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('was stopped (SIGINT)');
    const committed = await users();
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(ROWS);
    const [entry] = JSON.parse(
      (await runUsersync(['imports', 'list', '--json'], { cwd, env: env() })).stdout,
    ) as Array<{ status: string; counts: { rows: number; created: number } }>;
    expect(entry).toMatchObject({ status: 'interrupted', counts: { rows: committed, created: committed } });

    const again = await runUsersync(['import', file, '--json'], { cwd, env: env() });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      outcome: 'imported',
      counts: { rows: ROWS, created: ROWS - committed, unchanged: committed, failed: 0 },
    });
    expect(await users()).toBe(ROWS);
    finishing = (JSON.parse(again.stdout) as { importId: number }).importId;
  });

  it('stops a revert the same way, and the same command then finishes it', async () => {
    const inactive = async () => Number((await store('users').where('active', false).count({ n: '*' }))[0]!.n);
    const created = Number(
      (await store('audit_events').where({ import_id: finishing, action: 'user.created' }).count({ n: '*' }))[0]!.n,
    );
    const revert = ['imports', 'revert', String(finishing), '--allow', 'all', '--report-dir', cwd];
    const child = spawnUsersync(revert, { cwd, env: env() });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 50_000;
    while ((await inactive()) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain(`the revert of import ${finishing} was stopped (SIGINT)`);
    const done = await inactive();
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(created);
    const [entry] = JSON.parse(
      (await runUsersync(['imports', 'list', '--json'], { cwd, env: env() })).stdout,
    ) as Array<{ status: string; source: string }>;
    expect(entry).toMatchObject({ status: 'interrupted', source: 'revert' });

    const again = await runUsersync([...revert, '--json'], { cwd, env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(await inactive()).toBe(created);
  });
});
