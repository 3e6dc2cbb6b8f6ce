/**
 * kill -9 in the middle of a mirror import (SPEC §8): the roster step commits with the register
 * row or not at all, so the restarted import deactivates exactly the users the file left out, once.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connectTo, describeEachDatabase } from '../helpers/databases.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

describeEachDatabase('kill -9 during a mirror import', (database) => {
  let daemon: DaemonHandle | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
  });

  it('the restart deactivates exactly the leavers, once', async () => {
    const rows = 30_000;
    const leavers = 7;
    const config = {
      feeds: [{ name: 'roster', match: 'roster*.csv', mode: 'mirror' }],
      safety: { limits: { deactivate: 10 } },
    };
    daemon = await startDaemon({ databaseUrl: database().url, config });
    const people = (n: number) =>
      Array.from({ length: n }, (_, i) => [`Person ${i}`, `m${i}`, '', '', '', '', '', '', '', '']);
    const db = connectTo(database().kind, database().url);
    const count = async (table: string, where: Record<string, unknown> = {}) =>
      Number(((await db(table).where(where).count({ n: '*' })) as Array<{ n: number | string }>)[0]?.n);
    const today = new Date().toISOString().slice(0, 10);
    const archived = (name: string) => () =>
      listFiles(path.join(daemon!.folder('archive'), today)).some((f) => f.endsWith(`_${name}.report.xlsx`));
    try {
      const first = writeCsv(path.join(fixtureDir(), 'roster1.csv'), [TEMPLATE, ...people(rows)]);
      renameSync(first, path.join(daemon.folder('inbox'), 'roster1.csv'));
      await waitFor(archived('roster1'), 120_000, daemon.output);
      expect(await count('users', { feed: 'roster' })).toBe(rows);

      // The same roster without its last seven people; killed while its rows are written.
      const second = writeCsv(path.join(fixtureDir(), 'roster2.csv'), [
        TEMPLATE,
        ...people(rows - leavers).map((r) => [`${r[0]} v2`, ...r.slice(1)]),
      ]);
      renameSync(second, path.join(daemon.folder('inbox'), 'roster2.csv'));
      await waitFor(async () => (await count('users', { name: 'Person 0 v2' })) === 1, 60_000, daemon.output);
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      expect(await count('users', { active: false })).toBe(0);

      daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port, config });
      await waitFor(archived('roster2'), 120_000, daemon.output);
      const inactive = (await db('users').where({ active: false }).orderBy('username').pluck('username')) as string[];
      expect(inactive).toEqual(Array.from({ length: leavers }, (_, i) => `m${rows - leavers + i}`).sort());
      expect(await count('audit_events', { action: 'user.deactivated' })).toBe(leavers);
      expect(await count('users', { missing_count: 1 })).toBe(leavers);
    } finally {
      await db.destroy();
    }
  });
});
