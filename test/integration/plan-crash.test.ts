/**
 * kill -9 while a guarded import plans (SPEC §9): the plan writes nothing, so a daemon killed then
 * leaves the directory untouched; the next start plans and applies the file once — every user
 * created once, one `user.created` event each, the killed run closed as superseded.
 */
import { renameSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connectTo, describeEachDatabase } from '../helpers/databases.js';
import { listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

describeEachDatabase('kill -9 between plan and apply', (database) => {
  let daemon: DaemonHandle | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
  });

  it('writes nothing before the plan is checked, and the restart applies the file exactly once', async () => {
    // Passwords make the plan long (every one is hashed while planning): a wide window to kill in.
    const rows = 4_000;
    daemon = await startDaemon({ databaseUrl: database().url });
    const file = writeCsv(path.join(fixtureDir(), 'planned.csv'), [
      TEMPLATE,
      ...Array.from({ length: rows }, (_, i) => [
        `Plan ${i}`,
        `plan${i}`,
        `secret-pass-${i}`,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ]),
    ]);
    const db = connectTo(database().kind, database().url);
    const count = async (table: string, where: Record<string, string> = {}) =>
      Number(((await db(table).where(where).count({ n: '*' })) as Array<{ n: number | string }>)[0]?.n);
    try {
      renameSync(file, path.join(daemon.folder('inbox'), 'planned.csv'));
      await waitFor(async () => (await count('imports', { status: 'running' })) === 1, 30_000, daemon.output);
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      // Killed while planning: not one user, department or user event written.
      expect(await count('users')).toBe(0);
      expect(await count('audit_events', { action: 'user.created' })).toBe(0);

      daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port });
      const today = new Date().toISOString().slice(0, 10);
      await waitFor(
        () => listFiles(path.join(daemon!.folder('archive'), today)).some((f) => f.endsWith('_planned.report.xlsx')),
        120_000,
        daemon.output,
      );
      expect(await count('users')).toBe(rows);
      expect(await count('audit_events', { action: 'user.created' })).toBe(rows);
      const imports = (await db('imports').orderBy('id').select('status', 'superseded_by')) as Array<{
        status: string;
        superseded_by: number | string | null;
      }>;
      expect(imports.map((i) => i.status)).toEqual(['interrupted', 'imported']);
      expect(imports[0]?.superseded_by).not.toBeNull();
    } finally {
      await db.destroy();
    }
  });
});
