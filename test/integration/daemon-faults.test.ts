import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTo, describeEachDatabase, MYSQL_SERVER_URL, SKIP_MYSQL } from '../helpers/databases.js';
import { freePort, listFiles, startDaemon, waitFor, type DaemonHandle } from '../helpers/daemon.js';
import { TEMPLATE, fixtureDir, writeCsv } from '../fixtures/build.js';

const today = () => new Date().toISOString().slice(0, 10);

const count = async (
  db: ReturnType<typeof connectTo>,
  query: (q: ReturnType<typeof connectTo>) => ReturnType<ReturnType<typeof connectTo>>,
) => Number(((await query(db).count({ n: '*' })) as Array<{ n: number | string }>)[0]?.n);

describeEachDatabase('daemon crash recovery', (database) => {
  let daemon: DaemonHandle | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
  });

  it('after kill -9 in the middle of a large import, a restart imports the file once: every user present once, the register consistent', async () => {
    const rows = 40_000;
    daemon = await startDaemon({ databaseUrl: database().url });
    const big = writeCsv(path.join(fixtureDir(), 'big.csv'), [
      TEMPLATE,
      ...Array.from({ length: rows }, (_, i) => [
        `Person ${i}`,
        `person${i}`,
        '',
        `Dept ${i % 50}`,
        `p${i}@example.com`,
        `55119${String(i).padStart(8, '0')}`,
        'Yes',
        'No',
        '',
        '',
      ]),
    ]);
    const db = connectTo(database().kind, database().url);
    try {
      const { renameSync } = await import('node:fs');
      renameSync(big, path.join(daemon.folder('inbox'), 'big.csv'));
      // Kill once some batches have committed and others have not.
      await waitFor(
        async () => {
          const users = await count(db, (q) => q('users'));
          return users > 0 && users < rows;
        },
        60_000,
        daemon.output,
      );
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      expect(listFiles(daemon.folder('processing')).filter((f) => f.endsWith('big.csv'))).toHaveLength(1);
      expect(await count(db, (q) => q('imports').where('status', 'running'))).toBe(1);

      daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port });
      // The file moves first, then its JSON and xlsx reports (archive.ts): wait for the last of them.
      await waitFor(
        () => listFiles(path.join(daemon!.folder('archive'), today())).some((f) => f.endsWith('_big.report.xlsx')),
        120_000,
        daemon.output,
      );
      expect(
        listFiles(path.join(daemon.folder('archive'), today())).filter((f) => f.endsWith('_big.csv')),
      ).toHaveLength(1);
      expect(await count(db, (q) => q('users'))).toBe(rows);
      expect(await count(db, (q) => q('users').distinct('username'))).toBe(rows);
      const imports = (await db('imports').orderBy('id').select('id', 'status', 'superseded_by', 'source')) as Array<{
        id: number | string;
        status: string;
        superseded_by: number | string | null;
        source: string;
      }>;
      expect(imports.map((i) => i.status)).toEqual(['interrupted', 'imported']);
      expect(Number(imports[0]?.superseded_by)).toBe(Number(imports[1]?.id));
      expect(imports[1]?.source).toBe('recover');
      expect(listFiles(daemon.folder('processing')).filter((f) => !f.startsWith('.'))).toEqual([]);
      expect(listFiles(daemon.folder('error'))).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

describeEachDatabase('daemon graceful stop', (database) => {
  it('on SIGTERM in the middle of an import lets the batch commit, exits 0 and leaves the file claimed; the next start finishes it', async () => {
    const rows = 30_000;
    let daemon = await startDaemon({ databaseUrl: database().url });
    const big = writeCsv(path.join(fixtureDir(), 'stop.csv'), [
      TEMPLATE,
      ...Array.from({ length: rows }, (_, i) => [`Stop ${i}`, `stop${i}`, '', '', '', '', '', '', '', '']),
    ]);
    const db = connectTo(database().kind, database().url);
    try {
      const { renameSync } = await import('node:fs');
      renameSync(big, path.join(daemon.folder('inbox'), 'stop.csv'));
      await waitFor(
        async () => {
          const users = await count(db, (q) => q('users'));
          return users > 0 && users < rows;
        },
        60_000,
        daemon.output,
      );
      daemon.child.kill('SIGTERM');
      // A second signal must not restart the shutdown (a different one: the kernel merges two pending SIGTERMs).
      daemon.child.kill('SIGINT');
      expect(await daemon.exited).toBe(0);
      expect(daemon.output()).toContain('shutdown already under way');
      expect(listFiles(daemon.folder('processing')).filter((f) => f.endsWith('stop.csv'))).toHaveLength(1);
      expect(await count(db, (q) => q('imports').where('status', 'running'))).toBe(1);
      daemon = await startDaemon({ databaseUrl: database().url, cwd: daemon.cwd, port: daemon.port });
      await waitFor(
        () => listFiles(path.join(daemon.folder('archive'), today())).some((f) => f.endsWith('_stop.csv')),
        120_000,
        daemon.output,
      );
      expect(await count(db, (q) => q('users'))).toBe(rows);
      expect((await db('imports').orderBy('id').pluck('status')) as string[]).toEqual(['interrupted', 'imported']);
    } finally {
      await daemon.stop();
      await db.destroy();
    }
  });
});

/** A loopback TCP proxy to MariaDB that the test can cut and restore, to make the database "go away". */
async function startProxy(target: { host: string; port: number }, port: number) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const up = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server?.close(() => resolve());
    });
  await up();
  return { up, down };
}

describeEachDatabase('daemon with the database going away', (database) => {
  let daemon: DaemonHandle | undefined;
  afterAll(async () => {
    await daemon?.stop('SIGKILL');
  });

  it('keeps the file claimed and reports degraded while the database is unreachable, then imports it — never to error/', async () => {
    let makeUnavailable: () => Promise<void>;
    let restore: () => Promise<void>;
    let url = database().url;
    let locker: ReturnType<typeof connectTo> | undefined;
    if (database().kind === 'mysql') {
      // The daemon talks to MariaDB through a proxy we can cut.
      const server = new URL(MYSQL_SERVER_URL);
      const proxyPort = await freePort();
      const proxy = await startProxy({ host: server.hostname, port: Number(server.port || 3306) }, proxyPort);
      const dbName = new URL(database().url).pathname;
      url = `mysql://${server.username}${server.password ? `:${server.password}` : ''}@127.0.0.1:${proxyPort}${dbName}`;
      makeUnavailable = proxy.down;
      restore = proxy.up;
    } else {
      // SQLite cannot go away; a writer holding the lock past busy_timeout is its transient fault.
      locker = connectTo('sqlite', url);
      let release: (() => void) | undefined;
      makeUnavailable = async () => {
        await new Promise<void>((ready) => {
          void locker!.transaction(async (trx) => {
            await trx.raw('CREATE TABLE IF NOT EXISTS lock_holder (x INTEGER)');
            await trx('lock_holder').insert({ x: 1 });
            ready();
            await new Promise<void>((r) => (release = r));
          });
        });
      };
      restore = async () => release?.();
    }
    daemon = await startDaemon({
      databaseUrl: url,
      config: { database: { busyTimeoutMs: 300, acquireTimeoutMs: 2000, connectTimeoutMs: 1000 } },
    });
    await makeUnavailable();
    try {
      writeCsv(path.join(daemon.folder('inbox'), 'during-outage.csv'), [
        TEMPLATE,
        ['Out Age', 'outage', '', '', '', '', '', '', '', ''],
      ]);
      // Degraded twice over: the health probe cannot reach the database, and the file is waiting.
      await waitFor(
        async () => {
          const h = await daemon!.health();
          // `degraded` names the unreachable database at once; the file is claimed (and waits) a moment later.
          return (
            h.status === 503 &&
            h.body.degraded !== null &&
            listFiles(daemon!.folder('processing')).some((f) => f.endsWith('during-outage.csv'))
          );
        },
        30_000,
        daemon.output,
      );
      const health = await daemon.health();
      expect(health.body.status).toBe('degraded');
      expect(String(health.body.degraded)).toMatch(/DB_UNAVAILABLE|DB_BUSY/);
      expect(listFiles(daemon.folder('processing')).some((f) => f.endsWith('during-outage.csv'))).toBe(true);
      expect(listFiles(daemon.folder('error'))).toEqual([]);
    } finally {
      await restore();
    }
    await waitFor(
      () => listFiles(path.join(daemon!.folder('archive'), today())).some((f) => f.endsWith('_during-outage.csv')),
      60_000,
      daemon.output,
    );
    expect(listFiles(daemon.folder('error'))).toEqual([]);
    await waitFor(async () => (await daemon!.health()).status === 200, 10_000, daemon.output);
    await locker?.destroy();
  });
});

describe.skipIf(SKIP_MYSQL)('daemon with the database down at start [mysql]', () => {
  it('waits for the database, leaving dropped files in the inbox, and imports them once it is back', async () => {
    const server = new URL(MYSQL_SERVER_URL);
    const admin = connectTo('mysql', MYSQL_SERVER_URL);
    const name = `usersync_t_start_${process.pid}`;
    await admin.raw(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4`);
    const proxyPort = await freePort();
    const proxy = await startProxy({ host: server.hostname, port: Number(server.port || 3306) }, proxyPort);
    await proxy.down();
    const url = `mysql://${server.username}${server.password ? `:${server.password}` : ''}@127.0.0.1:${proxyPort}/${name}`;
    const daemon = await startDaemon({ databaseUrl: url, waitFor: 'boot.database_unavailable' });
    try {
      writeCsv(path.join(daemon.folder('inbox'), 'early.csv'), [
        TEMPLATE,
        ['Early Bird', 'early', '', '', '', '', '', '', '', ''],
      ]);
      await new Promise((r) => setTimeout(r, 1500));
      expect(listFiles(daemon.folder('inbox'))).toEqual(['early.csv']);
      expect(listFiles(daemon.folder('error'))).toEqual([]);
      await proxy.up();
      await waitFor(
        () => listFiles(path.join(daemon.folder('archive'), today())).some((f) => f.endsWith('_early.csv')),
        60_000,
        daemon.output,
      );
      expect((await daemon.health()).status).toBe(200);
    } finally {
      expect(await daemon.stop()).toBe(0);
      await proxy.down();
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.destroy();
    }
  });
});

describe('daemon folders', () => {
  it('keeps a file claimed and reports degraded while its archive folder cannot be written, then archives it', async () => {
    const dir = fixtureDir();
    const daemon = await startDaemon({ databaseUrl: `sqlite:${path.join(dir, 'db.sqlite')}` });
    // Root ignores permission bits, so the dated folder is blocked by a plain file of its name:
    // mkdir fails the way it does on a read-only or full disk.
    const blocked = path.join(daemon.folder('archive'), today());
    writeFileSync(blocked, 'not a folder');
    try {
      writeCsv(path.join(daemon.folder('inbox'), 'blocked.csv'), [
        TEMPLATE,
        ['Blocked', 'blocked', '', '', '', '', '', '', '', ''],
      ]);
      await waitFor(
        async () => {
          const h = await daemon.health();
          return h.status === 503 && String(h.body.degraded).includes('FS_MOVE_FAILED');
        },
        30_000,
        daemon.output,
      );
      expect(listFiles(daemon.folder('processing')).some((f) => f.endsWith('blocked.csv'))).toBe(true);
      expect(listFiles(daemon.folder('error'))).toEqual([]);
      rmSync(blocked);
      await waitFor(() => listFiles(blocked).some((f) => f.endsWith('_blocked.csv')), 30_000, daemon.output);
      await waitFor(async () => (await daemon.health()).status === 200, 10_000, daemon.output);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  it('keeps working when the inbox is deleted and recreated', async () => {
    const dir = fixtureDir();
    const daemon = await startDaemon({
      databaseUrl: `sqlite:${path.join(dir, 'db.sqlite')}`,
      config: { schedule: { rescan: '*/1 * * * * *' } },
    });
    try {
      rmSync(daemon.folder('inbox'), { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 1500));
      mkdirSync(daemon.folder('inbox'), { recursive: true });
      writeCsv(path.join(daemon.folder('inbox'), 'after-recreate.csv'), [
        TEMPLATE,
        ['Back', 'back', '', '', '', '', '', '', '', ''],
      ]);
      await waitFor(
        () => listFiles(path.join(daemon.folder('archive'), today())).some((f) => f.endsWith('_after-recreate.csv')),
        30_000,
        daemon.output,
      );
      expect(existsSync(path.join(daemon.folder('inbox'), 'after-recreate.csv'))).toBe(false);
    } finally {
      expect(await daemon.stop()).toBe(0);
    }
  });

  it('copies a scheduled source into the inbox when it changes, never touching the source', async () => {
    const dir = fixtureDir();
    const source = writeCsv(path.join(dir, 'hr-share.csv'), [
      TEMPLATE,
      ['Src One', 'src1', '', '', '', '', '', '', '', ''],
    ]);
    const daemon = await startDaemon({
      databaseUrl: `sqlite:${path.join(dir, 'db.sqlite')}`,
      config: { schedule: { rescan: '', sources: [{ name: 'hr', path: source, cron: '*/1 * * * * *' }] } },
    });
    try {
      await waitFor(
        () =>
          listFiles(path.join(daemon.folder('archive'), today())).filter((f) => /_hr_.*\.csv$/.test(f)).length === 1,
        30_000,
        daemon.output,
      );
      writeFileSync(source, `${TEMPLATE.join(',')}\r\nSrc One,src1,,,one@example.com,,,,,\r\n`);
      await waitFor(
        () =>
          listFiles(path.join(daemon.folder('archive'), today())).filter((f) => /_hr_.*\.csv$/.test(f)).length === 2,
        30_000,
        daemon.output,
      );
      await new Promise((r) => setTimeout(r, 2500)); // unchanged source: no further copies
      expect(
        listFiles(path.join(daemon.folder('archive'), today())).filter((f) => /_hr_.*\.csv$/.test(f)),
      ).toHaveLength(2);
      expect(existsSync(source)).toBe(true);
    } finally {
      await daemon.stop();
    }
  });
});
