import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDatabase } from '../helpers/databases.js';
import { makeWorkdir, runUsersync } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { TEMPLATE, writeCsv } from '../fixtures/build.js';

interface Event {
  id: number;
  action: string;
  username: string | null;
  importId: number | null;
  changes: Record<string, unknown> | null;
  actor: string | null;
}

describeEachDatabase(
  'the audit trail on the command line: actors, the configured catalogue, --limit, users activate/deactivate',
  (database) => {
    let cwd: string;
    const me = `${userInfo().username}@${hostname()}`;
    const usersync = (...args: string[]) => runUsersync(args, { cwd, env: { USERSYNC_DATABASE_URL: database().url } });
    const json = async <T>(...args: string[]): Promise<T> => {
      const result = await usersync(...args, '--json');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as T;
    };
    const audit = (...args: string[]) => json<Event[]>('audit', ...args);
    const catalogEvents = async () =>
      (await audit()).filter((e) => e.action === 'role.created' || e.action === 'group.created');

    beforeAll(() => {
      cwd = makeWorkdir();
      mkdirSync(path.join(cwd, 'config'));
      // The shipped catalogue (config/default.json: Administrator, Auditor, Operator, Viewer; Finance, HR, IT, Sales).
      writeFileSync(
        path.join(cwd, 'config', 'local.json'),
        JSON.stringify({
          logs: { console: 'json' },
          import: { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
        }),
      );
    });

    it('accepts the configured roles and groups in a dry run on a fresh database, writing nothing', async () => {
      const file = writeCsv(path.join(cwd, 'dry.csv'), [
        TEMPLATE,
        ['Dry Run', 'dry', '', '', '', '', '', '', 'Operator', 'Sales'],
      ]);
      const result = await usersync('import', file, '--dry-run');
      expect(result.stdout).toContain('1 would be created');
      expect(result.code).toBe(0);
      expect(await json('roles', 'list')).toEqual([]);
      expect(await audit()).toEqual([]);
    });

    it('creates the configured catalogue before a command-line import on a fresh database, each entry audited with the OS user and host', async () => {
      const file = writeCsv(path.join(cwd, 'first.csv'), [
        TEMPLATE,
        ['Ana Actor', 'ana', '', 'Ops', '', '', '', '', 'Operator', 'Sales'],
      ]);
      const result = await usersync('import', file, '--json');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'imported', counts: { created: 1 }, actor: me });
      expect((await json<Array<{ name: string }>>('roles', 'list')).map((r) => r.name)).toEqual([
        'Administrator',
        'Auditor',
        'Operator',
        'Viewer',
      ]);
      const created = await catalogEvents();
      expect(created.map((e) => [e.action, (e.changes as { name: string }).name, e.actor, e.importId])).toEqual([
        ...['Administrator', 'Auditor', 'Operator', 'Viewer'].map((name) => ['role.created', name, me, null]),
        ...['Finance', 'HR', 'IT', 'Sales'].map((name) => ['group.created', name, me, null]),
      ]);
      // The import's own events and its register record carry the same actor.
      const importId = JSON.parse(result.stdout).importId as number;
      const ofImport = await audit('--import', String(importId));
      expect(ofImport.map((e) => [e.action, e.actor])).toEqual(
        ['import.started', 'department.created', 'user.created', 'import.finished'].map((action) => [action, me]),
      );
      expect(await json('imports', 'show', String(importId))).toMatchObject({ id: importId, actor: me, source: 'cli' });
      expect((await json<Array<{ id: number; actor: string }>>('imports', 'list'))[0]).toMatchObject({
        id: importId,
        actor: me,
      });
      expect((await usersync('imports', 'show', String(importId))).stdout).toMatch(
        new RegExp(`^By\\s+${me.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      );
      const table = await usersync('audit', '--import', String(importId));
      expect(table.stdout).toMatch(/^AT\s+BY\s+IMPORT\s+ROW\s+USERNAME\s+ACTION\s+CHANGES$/m);
      // A second command finds the catalogue there: nothing created, nothing audited again.
      expect((await usersync('import', file)).code).toBe(0);
      expect(await catalogEvents()).toHaveLength(8);
    });

    it('refuses to remove a configured role or group, removing nothing, and removes others', async () => {
      expect((await usersync('roles', 'add', 'Temp')).code).toBe(0);
      const refused = await usersync('roles', 'remove', 'Temp', ' viewer ');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('" viewer " is in catalog.roles of the configuration');
      expect(refused.stderr).toContain('CATALOG_CONFIGURED');
      expect((await json<Array<{ name: string }>>('roles', 'list')).map((r) => r.name)).toContain('Temp');
      expect((await usersync('groups', 'remove', 'HR')).code).toBe(2);
      expect(await json('roles', 'remove', 'Temp')).toEqual({ removed: ['Temp'], missing: [] });
      expect((await audit()).filter((e) => e.action === 'role.removed').map((e) => [e.changes, e.actor])).toEqual([
        [{ name: 'Temp' }, me],
      ]);
    });

    it('with --limit N shows the newest N matching events, oldest first', async () => {
      const everything = await audit();
      expect(everything.length).toBeGreaterThan(10);
      expect((await audit('--limit', '3')).map((e) => e.id)).toEqual(everything.slice(-3).map((e) => e.id));
      const ofAna = (await audit('--user', 'ana')).map((e) => e.id);
      expect(ofAna.length).toBeGreaterThan(0);
      expect((await audit('--user', 'ANA', '--limit', '1')).map((e) => e.id)).toEqual(ofAna.slice(-1));
      const zero = await usersync('audit', '--limit', '0');
      expect(zero.code).toBe(2);
      expect(zero.stderr).toContain('--limit 0');
    });

    it('deactivates and activates one user as an audited change, idempotently, with --by as the actor', async () => {
      const before = await json<{ active: boolean; updatedAt: string }>('users', 'show', 'ana');
      expect(before.active).toBe(true);
      const off = await usersync('users', 'deactivate', ' ANA ', '--by', 'j.doe');
      expect(off.code).toBe(0);
      expect(off.stdout).toBe('deactivated user "ana"\n');
      const after = await json<{ active: boolean; updatedAt: string }>('users', 'show', 'ana');
      expect(after.active).toBe(false);
      expect(after.updatedAt > before.updatedAt).toBe(true);
      const events = () => audit('--user', 'ana');
      expect((await events()).at(-1)).toMatchObject({
        action: 'user.updated',
        importId: null,
        username: 'ana',
        changes: { active: { old: true, new: false } },
        actor: 'j.doe',
      });
      const count = (await events()).length;
      // Already inactive: said so, exit 0, nothing written.
      const again = await usersync('users', 'deactivate', 'ana');
      expect(again.code).toBe(0);
      expect(again.stdout).toBe('user "ana" is already inactive; nothing changed\n');
      expect(await json('users', 'deactivate', 'ana')).toEqual({ username: 'ana', active: false, changed: false });
      expect((await json<{ updatedAt: string }>('users', 'show', 'ana')).updatedAt).toBe(after.updatedAt);
      expect(await events()).toHaveLength(count);
      // Back on, without --by: the OS user and host.
      expect(await json('users', 'activate', 'Ana')).toEqual({ username: 'ana', active: true, changed: true });
      expect((await events()).at(-1)).toMatchObject({
        action: 'user.updated',
        changes: { active: { old: false, new: true } },
        actor: me,
      });
      const log = readFileSync(path.join(cwd, 'logs', 'audit.log'), 'utf8');
      expect(log).toContain('"username":"ana","actor":"j.doe","changes":{"active":{"old":true,"new":false}}');
    });

    it('refuses an unknown user (USER_NOT_FOUND) and a --by that cannot name anyone (exit 2), changing nothing', async () => {
      const count = (await audit()).length;
      const missing = await usersync('users', 'deactivate', 'Nobody');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('No user has the username "nobody"');
      expect(missing.stderr).toContain('USER_NOT_FOUND');
      for (const by of ['daemon', 'daemon:workday', '', 'a\u202Eb']) {
        const refused = await usersync('users', 'deactivate', 'ana', '--by', by);
        expect(refused.code, by).toBe(2);
        expect(refused.stderr).toContain('--by');
      }
      expect((await json<{ active: boolean }>('users', 'show', 'ana')).active).toBe(true);
      expect(await audit()).toHaveLength(count);
    });

    it('ensures the catalogue at daemon start with the daemon as its actor, and records the daemon on its imports', async () => {
      const before = (await catalogEvents()).length;
      const daemon = await startDaemon({
        databaseUrl: database().url,
        config: { catalog: { roles: ['Approver'], groups: ['Finance'] } },
      });
      try {
        writeCsv(path.join(daemon.folder('inbox'), 'drop.csv'), [
          TEMPLATE,
          ['Dee Daemon', 'dee', '', '', '', '', '', '', 'Approver', ''],
        ]);
        await waitFor(async () => (await audit('--user', 'dee')).length > 0, 30_000, daemon.output);
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
      const created = await catalogEvents();
      expect(created.at(-1)).toMatchObject({
        action: 'role.created',
        changes: { name: 'Approver', config: 'catalog.roles' },
        actor: 'daemon',
      });
      expect(created).toHaveLength(before + 1); // Finance existed
      const dee = (await audit('--user', 'dee'))[0] as Event;
      expect(dee).toMatchObject({ action: 'user.created', actor: 'daemon' });
      expect(await json('imports', 'show', String(dee.importId))).toMatchObject({ source: 'watch', actor: 'daemon' });
      expect(readFileSync(path.join(daemon.cwd, 'logs', 'audit.log'), 'utf8')).toMatch(
        /"action":"user\.created".*"username":"dee","actor":"daemon"/,
      );
    });

    it('creates each configured entry once when several commands ensure the catalogue at the same moment', async () => {
      const racing = makeWorkdir();
      mkdirSync(path.join(racing, 'config'));
      writeFileSync(
        path.join(racing, 'config', 'local.json'),
        JSON.stringify({ catalog: { roles: ['Racer A', 'Racer B'], groups: ['Racers'] } }),
      );
      expect(
        (
          await usersync(
            'import',
            writeCsv(path.join(cwd, 'racer.csv'), [TEMPLATE, ['Rae Racer', 'racer', '', '', '', '', '', '', '', '']]),
          )
        ).code,
      ).toBe(0);
      // Each then changes nothing itself (racer is active), so only the catalogue's writes meet.
      const results = await Promise.all(
        [1, 2, 3, 4].map(() =>
          runUsersync(['users', 'activate', 'racer'], { cwd: racing, env: { USERSYNC_DATABASE_URL: database().url } }),
        ),
      );
      expect(results.map((r) => [r.code, r.stderr])).toEqual(results.map(() => [0, '']));
      const names = (await catalogEvents()).map((e) => (e.changes as { name: string }).name);
      for (const name of ['Racer A', 'Racer B', 'Racers'])
        expect(
          names.filter((n) => n === name),
          name,
        ).toHaveLength(1);
    });
  },
);
